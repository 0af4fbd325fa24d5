package main

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/evroam/evroam/chargestations"
	"github.com/evroam/evroam/cluster"
	"github.com/evroam/evroam/internal/batch"
	"github.com/evroam/evroam/internal/web"
	"github.com/evroam/evroam/ocpi"
	"github.com/evroam/evroam/ocpp"
	"github.com/evroam/evroam/stationreports"
	"github.com/evroam/evroam/tokens"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are this process's Prometheus metrics, served at GET /metrics (README: "Metrics and
// logs"). Counters and histograms are fed through the hooks the packages offer
// (ocpp.Observer, cluster.Config.ObserveCall, web.RequestLog), so that none of them depends
// on Prometheus; what is naturally a snapshot (the pool, queue depths, connected stations) is
// read at scrape time by a collector (snapshots). Each app has its own registry, so that the
// several apps of a test process do not share series.
type metrics struct {
	registry *prometheus.Registry
	handler  http.Handler

	ocppMessages   *prometheus.CounterVec
	ocppHandler    *prometheus.HistogramVec
	ocppCallErrors *prometheus.CounterVec
	forwarded      *prometheus.CounterVec
	commands       *prometheus.HistogramVec
	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	// messagesPruned counts the message-log frames this node deleted past their retention,
	// statusesPruned the status-log entries.
	messagesPruned, statusesPruned prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		ocppMessages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evroam_ocpp_messages_total",
			Help: "OCPP frames this node's gateway received (direction in) and sent (out), by action and message type (CALL, CALLRESULT, CALLERROR). Actions no OCPP schema defines count as unknown.",
		}, []string{"action", "direction", "message_type"}),
		ocppHandler: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "evroam_ocpp_handler_duration_seconds",
			Help: "How long the gateway takes to answer a station's CALL, from the decoded frame to the written answer, registry writes included, by action.",
			// Finer between 50 and 250 ms, where a status report's p99 target (100 ms) lies.
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .075, .1, .15, .2, .25, .5, 1, 2.5, 5, 10},
		}, []string{"action"}),
		ocppCallErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evroam_ocpp_call_errors_sent_total",
			Help: "CALLERRORs the gateway answered stations with, by the action of the CALL and the OCPP error code.",
		}, []string{"action", "code"}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evroam_ocpp_proxy_frames_total",
			Help: "OCPP frames forwarded over the OCPP proxy's operator links of this node, by operator id and direction (out: sent to the operator, in: received from it).",
		}, []string{"operator", "direction"}),
		commands: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "evroam_command_duration_seconds",
			Help:    "Round trips of charger commands sent through this node, by OCPP action, route (local: this node holds the station; forwarded: another node does; none: no node does) and outcome (ok, not_connected, timeout, cancelled, call_error, invalid_payload, invalid_response, error).",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"action", "route", "outcome"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evroam_http_requests_total",
			Help: "HTTP requests to the API, OCPI and health endpoints, by route pattern (unmatched when no route matched), method and status (499: the client went away first).",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "evroam_http_request_duration_seconds",
			Help:    "How long HTTP requests take, by route pattern and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		messagesPruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "evroam_message_log_pruned_total",
			Help: "Frames this node deleted from the OCPP message log because they were older than EVROAM_MESSAGE_LOG_RETENTION.",
		}),
		statusesPruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "evroam_status_log_pruned_total",
			Help: "Entries this node deleted from the status log because they were older than EVROAM_STATUS_LOG_RETENTION.",
		}),
	}
	m.registry.MustRegister(m.ocppMessages, m.ocppHandler, m.ocppCallErrors, m.forwarded, m.commands, m.httpRequests, m.httpDuration, m.messagesPruned, m.statusesPruned,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m
}

// ocppObserver is the gateway's ocpp.Observer. It hands out the label-bound series; the
// gateway asks for each once and keeps it, so WithLabelValues stays off the per-frame path.
type ocppObserver struct{ m *metrics }

func (o ocppObserver) Frames(action, direction, messageType string) ocpp.Counter {
	return o.m.ocppMessages.WithLabelValues(action, direction, messageType)
}

func (o ocppObserver) HandlerDuration(action string) ocpp.Histogram {
	return o.m.ocppHandler.WithLabelValues(action)
}

func (o ocppObserver) CallErrorsSent(action, code string) ocpp.Counter {
	return o.m.ocppCallErrors.WithLabelValues(action, code)
}

// ForwardedFrames implements ocpp.ProxyObserver (asked once per link).
func (o ocppObserver) ForwardedFrames(operatorID, direction string) ocpp.Counter {
	return o.m.forwarded.WithLabelValues(operatorID, direction)
}

// observeCommand is cluster.Config.ObserveCall: one charger command's round trip.
func (m *metrics) observeCommand(action, route string, took time.Duration, err error) {
	m.commands.WithLabelValues(action, route, commandOutcome(err)).Observe(took.Seconds())
}

// commandOutcome names a command's result as the outcome label has it.
func commandOutcome(err error) string {
	var ce *ocpp.CallError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ocpp.ErrNotConnected):
		return "not_connected"
	case errors.Is(err, ocpp.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &ce):
		return "call_error"
	case errors.Is(err, ocpp.ErrInvalidPayload):
		return "invalid_payload"
	case errors.Is(err, ocpp.ErrInvalidResponse):
		return "invalid_response"
	}
	return "error"
}

// observeHTTP is web.RequestLog's observer: one finished request. HTTP requests are not the
// per-frame path, so WithLabelValues per request is affordable.
func (m *metrics) observeHTTP(c web.Completed) {
	route := c.Route
	if route == "" {
		route = "unmatched" // never the raw path: it would make a series per id
	}
	method := httpMethod(c.Method)
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(c.Status)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(c.Duration.Seconds())
}

// httpMethod keeps the method label to the methods HTTP defines, so that a client cannot make
// up label values.
func httpMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// ---- read at scrape time

// snapshots collects, at each scrape, what is a state rather than a count of events: the
// database pool, the connected stations, the batchers' queues and counts, and the OCPI push
// queue.
type snapshots struct {
	db      *sql.DB
	gateway *ocpp.Server
	node    *cluster.Node
	reports *stationreports.Service
	creates *batch.Stats // station creations committed together (chargestations.Service.GroupCreates)
	pusher  *ocpi.Pusher
	answers *chargestations.AnswerCache
	tokens  *tokens.Authorizer
	log     *slog.Logger
}

var (
	descDBMaxOpen = prometheus.NewDesc("evroam_db_max_open_connections", "The pool's limit of open connections to PostgreSQL (0: none).", nil, nil)
	descDBOpen    = prometheus.NewDesc("evroam_db_open_connections", "Open connections of the pool, in use or idle.", nil, nil)
	descDBInUse   = prometheus.NewDesc("evroam_db_in_use_connections", "Connections of the pool in use now.", nil, nil)
	descDBIdle    = prometheus.NewDesc("evroam_db_idle_connections", "Idle connections of the pool.", nil, nil)
	descDBWaits   = prometheus.NewDesc("evroam_db_waits_total", "Times a query waited for a connection because the pool was at its limit.", nil, nil)
	descDBWaited  = prometheus.NewDesc("evroam_db_wait_seconds_total", "Time queries spent waiting for a connection.", nil, nil)

	descConnected = prometheus.NewDesc("evroam_ocpp_connected_stations", "Stations connected to this node's gateway, by protocol version (Ocpp16, Ocpp201).", []string{"protocol"}, nil)

	descBatchPending = prometheus.NewDesc("evroam_batch_pending_items", "Items waiting in a batcher now, those being written included (connections, statuses, status_followers, sessions, station_sessions, station_creates, message_log, heartbeats, ...).", []string{"batcher"}, nil)
	descBatchFlushes = prometheus.NewDesc("evroam_batch_flushes_total", "Batches a batcher wrote (one statement or transaction each).", []string{"batcher"}, nil)
	descBatchItems   = prometheus.NewDesc("evroam_batch_items_total", "Items a batcher handed to the database, failed ones included.", []string{"batcher"}, nil)
	descBatchFailed  = prometheus.NewDesc("evroam_batch_failed_items_total", "Items whose write failed.", []string{"batcher"}, nil)
	descBatchDropped = prometheus.NewDesc("evroam_batch_dropped_items_total", "Items refused because too many were waiting (message_log; the other batchers make writers wait instead).", []string{"batcher"}, nil)

	descAnswerHits        = prometheus.NewDesc("evroam_station_answer_cache_hits_total", "Stations answered from this node's cache of rendered answers: GET of one station, and each station of a list page.", nil, nil)
	descAnswerMisses      = prometheus.NewDesc("evroam_station_answer_cache_misses_total", "Stations read from the database while the cache served, by GET of one station or for a list page (not counted while it is off).", nil, nil)
	descAnswerWarmed      = prometheus.NewDesc("evroam_station_answer_cache_warmed_stations_total", "Stations the warm-up of this node's answer cache read and rendered (EVROAM_STATION_CACHE_WARM_AFTER).", nil, nil)
	descAnswerWarmUps     = prometheus.NewDesc("evroam_station_answer_cache_warm_ups_total", "Warm-ups of this node's answer cache that finished: every station read, or the cache three quarters full.", nil, nil)
	descAuthorizeMemory   = prometheus.NewDesc("evroam_token_decisions_memory_total", "Id tokens (Authorize and the transaction messages) this node decided from what it keeps, without a database round trip.", nil, nil)
	descAuthorizeDatabase = prometheus.NewDesc("evroam_token_decisions_database_total", "Id tokens this node decided by reading the database (first sight, after a change, or while its change listener is down).", nil, nil)
	descPushQueue         = prometheus.NewDesc("evroam_ocpi_push_queue_length", "OCPI pushes waiting to be sent to partners (rows of ocpi_deliveries; the same on every node).", nil, nil)
	descPushSent          = prometheus.NewDesc("evroam_ocpi_pushes_sent_total", "OCPI pushes a partner accepted, sent by this node.", nil, nil)
	descPushFailed        = prometheus.NewDesc("evroam_ocpi_push_failures_total", "OCPI push attempts that failed (the partner refused, answered an error or did not answer); they are retried.", nil, nil)
	descPushDropped       = prometheus.NewDesc("evroam_ocpi_pushes_dropped_total", "OCPI pushes given up after a partner refused them repeatedly.", nil, nil)
)

// pushQueueTimeout bounds the count of the OCPI push queue at a scrape; past it the gauge is
// left out of that scrape.
const pushQueueTimeout = time.Second

func (s *snapshots) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDBMaxOpen, descDBOpen, descDBInUse, descDBIdle, descDBWaits, descDBWaited,
		descConnected, descBatchPending, descBatchFlushes, descBatchItems, descBatchFailed, descBatchDropped,
		descPushQueue, descPushSent, descPushFailed, descPushDropped, descAnswerHits, descAnswerMisses,
		descAnswerWarmed, descAnswerWarmUps, descAuthorizeMemory, descAuthorizeDatabase} {
		ch <- d
	}
}

func (s *snapshots) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}

	st := s.db.Stats()
	gauge(descDBMaxOpen, float64(st.MaxOpenConnections))
	gauge(descDBOpen, float64(st.OpenConnections))
	gauge(descDBInUse, float64(st.InUse))
	gauge(descDBIdle, float64(st.Idle))
	counter(descDBWaits, float64(st.WaitCount))
	counter(descDBWaited, st.WaitDuration.Seconds())

	for proto, n := range s.gateway.ConnectedByProtocol() {
		gauge(descConnected, float64(n), proto)
	}

	batcher := func(name string, pending, flushes, items, failed int64) {
		gauge(descBatchPending, float64(pending), name)
		counter(descBatchFlushes, float64(flushes), name)
		counter(descBatchItems, float64(items), name)
		counter(descBatchFailed, float64(failed), name)
	}
	hits, misses := s.answers.Stats()
	counter(descAnswerHits, float64(hits))
	counter(descAnswerMisses, float64(misses))
	warmed, warmUps := s.answers.WarmStats()
	counter(descAnswerWarmed, float64(warmed))
	counter(descAnswerWarmUps, float64(warmUps))
	hits, misses = s.tokens.Stats()
	counter(descAuthorizeMemory, float64(hits))
	counter(descAuthorizeDatabase, float64(misses))
	shared := s.reports.BatchStats() // a new map at each call
	shared["station_sessions"] = s.node.SessionBatchStats()
	if s.creates != nil {
		shared["station_creates"] = s.creates
	}
	for name, b := range shared {
		batcher(name, b.Pending.Load(), b.Flushes.Load(), b.Items.Load(), b.Failed.Load())
	}
	for name, b := range s.gateway.BatchStats() {
		batcher(name, b.Pending, b.Flushes, b.Items, b.Failed)
		if name == "message_log" || name == "login_failures" {
			counter(descBatchDropped, float64(b.Dropped), name)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), pushQueueTimeout)
	defer cancel()
	if n, err := s.pusher.Queued(ctx); err != nil {
		s.log.Debug("metrics: count the OCPI push queue", "err", err)
	} else {
		gauge(descPushQueue, float64(n))
	}
	ps := s.pusher.Stats()
	counter(descPushSent, float64(ps.Sent.Load()))
	counter(descPushFailed, float64(ps.Failed.Load()))
	counter(descPushDropped, float64(ps.Dropped.Load()))
}
