package secret

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k1, err := ParseKey(strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := ParseKey(strings.Repeat("cd", 32))
	sealed := k1.Seal("upstream-password", "operator-1")
	if bytes.Contains(sealed, []byte("upstream-password")) {
		t.Fatalf("sealed value holds the plain text: %q", sealed)
	}
	if again := k1.Seal("upstream-password", "operator-1"); bytes.Equal(again, sealed) {
		t.Error("two seals of one secret are equal: the nonce is not random")
	}
	if got, err := k1.Open(sealed, "operator-1"); err != nil || got != "upstream-password" {
		t.Errorf("Open = %q, %v", got, err)
	}
	for name, open := range map[string]func() (string, error){
		"OtherKey":   func() (string, error) { return k2.Open(sealed, "operator-1") },
		"OtherOwner": func() (string, error) { return k1.Open(sealed, "operator-2") },
		"Damaged": func() (string, error) {
			return k1.Open(append(bytes.Clone(sealed[:len(sealed)-1]), sealed[len(sealed)-1]^1), "operator-1")
		},
		"Short": func() (string, error) { return k1.Open(sealed[:10], "operator-1") },
		"NoKey": func() (string, error) { return (*Key)(nil).Open(sealed, "operator-1") },
	} {
		if got, err := open(); !errors.Is(err, ErrSealedWithOtherKey) || got != "" {
			t.Errorf("%s: Open = %q, %v, want ErrSealedWithOtherKey", name, got, err)
		}
	}
}
