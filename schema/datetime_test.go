package schema

import (
	"testing"
	"time"
)

func TestFormatDateTime(t *testing.T) {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	for _, test := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2015, 6, 29, 20, 39, 9, 0, time.UTC), "2015-06-29T20:39:09Z"},
		{time.Date(2015, 6, 29, 20, 39, 9, 999_999_999, time.UTC), "2015-06-29T20:39:09Z"},
		{time.Date(2015, 6, 29, 22, 39, 9, 0, ams), "2015-06-29T20:39:09Z"},
		{time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("X", -5*3600)), "2024-01-01T05:00:00Z"},
	} {
		if got := FormatDateTime(test.in); got != test.want {
			t.Errorf("FormatDateTime(%v) = %q, want %q", test.in, got, test.want)
		}
	}
}

func TestParseDateTime(t *testing.T) {
	want := time.Date(2015, 6, 29, 20, 39, 9, 0, time.UTC)
	for _, test := range []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{in: "2015-06-29T20:39:09Z", want: want},
		{in: "2015-06-29T20:39:09", want: want},
		{in: "2015-06-29T22:39:09+02:00", want: want},
		{in: "2015-06-29T20:39:09+00:00", want: want},
		{in: "2015-06-29T20:39:09.2Z", want: want.Add(200 * time.Millisecond)},
		{in: "2015-06-29T20:39:01.123", want: time.Date(2015, 6, 29, 20, 39, 1, 123_000_000, time.UTC)},
		{in: "2015-06-29", wantErr: true},
		{in: "2015-06-29 20:39:09", wantErr: true},
		{in: "29-06-2015T20:39:09Z", wantErr: true},
		{in: "2015-06-29T25:39:09Z", wantErr: true},
		{in: "", wantErr: true},
	} {
		got, err := ParseDateTime(test.in)
		if (err != nil) != test.wantErr {
			t.Errorf("ParseDateTime(%q) error = %v, want error %t", test.in, err, test.wantErr)
			continue
		}
		if !got.Equal(test.want) || (err == nil && got.Location() != time.UTC) {
			t.Errorf("ParseDateTime(%q) = %v, want %v in UTC", test.in, got, test.want)
		}
	}
}
