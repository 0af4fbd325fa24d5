package database

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/evroam/evroam/internal/pgtest"
	"github.com/google/uuid"
)

// TestCountWindowCountsTheSmallerSide: a date window's total is right whichever side
// CountWindow counts: the window itself when it is small (an incremental sync), all rows less
// the few outside it when those are few (a sync from far back; the kept total is asked for
// then and only then), the window in full when both sides are large.
func TestCountWindowCountsTheSmallerSide(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	network, other := uuid.New(), uuid.New()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, q := range []string{
		`CREATE TABLE items (id int PRIMARY KEY, network_id uuid NOT NULL, last_updated timestamptz NOT NULL)`,
		`CREATE INDEX ON items (network_id, last_updated, id)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range []uuid.UUID{network, other} {
		if _, err := db.Exec(`INSERT INTO items SELECT $1 + i, $2, $3::timestamptz + i * interval '1 second' FROM generate_series(0, 49) i`,
			100*i, n, t0); err != nil {
			t.Fatal(err)
		}
	}
	at := func(s int) *time.Time { v := t0.Add(time.Duration(s) * time.Second); return &v }
	const limit = 5
	for _, c := range []struct {
		from, to *time.Time
		want     int
		keptUsed bool // the window is large and what lies outside it small
	}{
		{from: at(47), want: 3},
		{to: at(3), want: 3},
		{from: at(2), want: 48, keptUsed: true},
		{to: at(46), want: 46, keptUsed: true},
		{from: at(1), to: at(48), want: 47, keptUsed: true},
		{from: at(20), to: at(30), want: 10},
		{from: at(20), want: 30},
		{from: at(60), want: 0},
	} {
		name := fmt.Sprintf("[%v, %v)", c.from, c.to)
		var base Where
		base.AddNetworks("network_id", []uuid.UUID{network})
		keptUsed := false
		got, err := countWindow(context.Background(), db, "items", &base, "last_updated", c.from, c.to, func() (int, error) {
			keptUsed = true
			return 50, nil // the network's rows, as list_counts keeps them
		}, limit)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != c.want || keptUsed != c.keptUsed {
			t.Errorf("%s: total %d (kept total used: %v), want %d (%v)", name, got, keptUsed, c.want, c.keptUsed)
		}
	}
}
