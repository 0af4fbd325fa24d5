package proxy

import (
	"context"
	"log/slog"
	"time"

	"github.com/lib/pq"
)

// changesChannel is notified with a station's id when its operators change (migration 0029).
const changesChannel = "station_operators_changed"

// Listen calls changed with the id of every station whose operators change, on whichever
// node the change was made, until ctx ends. When its connection was lost (notifications
// may have been missed) it calls resync, which should re-read the operators of every
// station this node holds. It returns once ctx is done.
func Listen(ctx context.Context, dbURL string, log *slog.Logger, changed func(station string), resync func()) {
	events := make(chan pq.ListenerEventType, 4)
	l := pq.NewListener(dbURL, 100*time.Millisecond, 5*time.Second, func(ev pq.ListenerEventType, err error) {
		if err != nil && ev != pq.ListenerEventConnected {
			log.Warn("proxy: operator change listener lost its connection", "err", err)
		}
		select {
		case events <- ev:
		default:
		}
	})
	defer l.Close()
	if err := l.Listen(changesChannel); err != nil {
		log.Error("proxy: listen for operator changes; links follow changes only when stations reconnect", "err", err)
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			if ev == pq.ListenerEventReconnected {
				resync()
			}
		case n := <-l.Notify:
			if n == nil {
				resync()
				continue
			}
			changed(n.Extra)
		}
	}
}
