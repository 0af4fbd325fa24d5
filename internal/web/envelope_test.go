package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/evroam/evroam/internal/paging"
	"github.com/evroam/evroam/internal/web"
	"github.com/gin-gonic/gin"
)

// TestEnvelopesOfConcurrentAnswers: answers are built in buffers kept for the next answer;
// answers of every size written at once, over real connections, each carry their own data
// whole, and their Content-Length is right.
func TestEnvelopesOfConcurrentAnswers(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// item n is a JSON string of n × 1 KiB of the letter n picks, so a mixed-up buffer shows.
	item := func(n, size int) []byte { return []byte(`"` + strings.Repeat(string(rune('a'+n%26)), size) + `"`) }
	r.GET("/one/:n", func(c *gin.Context) {
		var n int
		fmt.Sscan(c.Param("n"), &n)
		web.RespondEncoded(c, http.StatusOK, item(n, n*1024))
	})
	r.GET("/list/:n", func(c *gin.Context) {
		var n int
		fmt.Sscan(c.Param("n"), &n)
		items := make([][]byte, n)
		for i := range items {
			items[i] = item(n+i, 1024)
		}
		web.RespondListEncoded(c, paging.Page{Limit: n}, paging.Meta{Total: n}, items)
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 40 {
				n := 1 + (w*40+i)%150
				for _, path := range []string{"/one/", "/list/"} {
					res, err := http.Get(srv.URL + path + fmt.Sprint(n))
					if err != nil {
						t.Error(err)
						return
					}
					body, err := io.ReadAll(res.Body)
					res.Body.Close()
					if err != nil {
						t.Error(err)
						return
					}
					if res.ContentLength != int64(len(body)) {
						t.Errorf("%s%d: Content-Length %d for %d bytes", path, n, res.ContentLength, len(body))
					}
					var env struct {
						Data json.RawMessage `json:"data"`
					}
					if err := json.Unmarshal(body, &env); err != nil {
						t.Errorf("%s%d: %v", path, n, err)
						continue
					}
					want := string(item(n, n*1024))
					if path == "/list/" {
						parts := make([]string, n)
						for i := range parts {
							parts[i] = string(item(n+i, 1024))
						}
						want = "[" + strings.Join(parts, ",") + "]"
					}
					if string(env.Data) != want {
						t.Errorf("%s%d: the data is not the answer's own (%d bytes, want %d)", path, n, len(env.Data), len(want))
					}
				}
			}
		})
	}
	wg.Wait()
}
