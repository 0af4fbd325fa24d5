package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evroam/evroam/simulator"
)

// httpClient keeps enough idle connections for every load worker.
func httpClient(workers int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = workers * 2
	t.MaxIdleConnsPerHost = workers * 2
	return &http.Client{Transport: t, Timeout: 30 * time.Second}
}

// httpLoad runs workers closed-loop clients for d: each sends the request next() makes, reads
// the whole answer, checks its status and goes again. It returns the latency figures. Each
// worker keeps one connection (rawClient, a lean client: see there).
func httpLoad(ctx context.Context, workers int, d time.Duration, key string, want int, next func(r *rand.Rand) (method, url string, body []byte)) simulator.Figures {
	rec := simulator.NewRecorder()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	var logged atomic.Int32
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 42))
			var client *rawClient
			defer func() {
				if client != nil {
					client.close()
				}
			}()
			for ctx.Err() == nil {
				method, url, body := next(rnd)
				if client == nil {
					c, err := newRawClient(url)
					if err != nil {
						rec.Observe("http", 0, err)
						return
					}
					client = c
				}
				t0 := time.Now()
				status, err := client.do(method, requestTarget(url), key, body)
				if ctx.Err() != nil {
					return // the run ended during this request: not counted
				}
				if err == nil && status != want {
					err = &simulator.CallError{Code: fmt.Sprintf("HTTP %d", status)}
					if logged.Add(1) <= 5 { // a few, to tell why without flooding the output
						logf("%s %s answered %d: %s", method, requestTarget(url), status, client.errBody)
					}
				}
				rec.Observe("http", time.Since(t0), err)
			}
		}()
	}
	wg.Wait()
	rec.Stop()
	return rec.Report().Get("http")
}

// requestTarget is the path and query of an absolute URL.
func requestTarget(url string) string {
	rest := url[strings.Index(url, "//")+2:]
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[i:]
	}
	return "/"
}

// do sends one request with the API key and decodes a JSON answer into out (when not nil).
func do(ctx context.Context, client *http.Client, method, url, key string, body []byte, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, err
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// follow pages through a list from url, following Link rel="next", and returns how many
// items it saw and the pages it took. header names the auth header (X-API-Key or
// Authorization).
func follow(ctx context.Context, client *http.Client, url, header, value string) (items, pages int, err error) {
	total := -1 // every page's X-Total-Count must agree with what the sync saw
	for url != "" {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return items, pages, err
		}
		req.Header.Set(header, value)
		resp, err := client.Do(req)
		if err != nil {
			return items, pages, err
		}
		var page struct {
			Data []json.RawMessage `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return items, pages, err
		}
		if resp.StatusCode != http.StatusOK {
			return items, pages, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
		}
		if t, err := strconv.Atoi(resp.Header.Get("X-Total-Count")); err == nil {
			if total >= 0 && t != total {
				return items, pages, fmt.Errorf("GET %s: X-Total-Count %d, the first page said %d", url, t, total)
			}
			total = t
		}
		items += len(page.Data)
		pages++
		url = nextLink(resp.Header.Get("Link"))
	}
	if total >= 0 && total != items {
		return items, pages, fmt.Errorf("X-Total-Count %d, but the sync saw %d items", total, items)
	}
	return items, pages, nil
}

func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		if strings.Contains(part, `rel="next"`) {
			s, e := strings.Index(part, "<"), strings.Index(part, ">")
			if s >= 0 && e > s {
				return part[s+1 : e]
			}
		}
	}
	return ""
}
