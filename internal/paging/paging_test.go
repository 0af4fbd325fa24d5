package paging

import (
	"testing"
	"time"
)

func TestCursorRoundTrip(t *testing.T) {
	c := Cursor{Updated: time.Date(2026, 11, 30, 10, 0, 0, 123456000, time.UTC), ID: "CS:with:colons/and slash"}
	got, err := ParseCursor(c.String())
	if err != nil || !got.Updated.Equal(c.Updated) || got.ID != c.ID {
		t.Fatalf("ParseCursor(String()) = %+v, %v; want %+v", got, err, c)
	}
	for _, bad := range []string{"", "!!", "bm90LWEtY3Vyc29y"} {
		if _, err := ParseCursor(bad); err == nil {
			t.Errorf("ParseCursor(%q) accepted", bad)
		}
	}
}
