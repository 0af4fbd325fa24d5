package firmware_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evroam/evroam/files"
	"github.com/evroam/evroam/firmware"
	"github.com/evroam/evroam/internal/apitest"
	"github.com/evroam/evroam/internal/auth"
	"github.com/evroam/evroam/internal/pgtest"
	"github.com/evroam/evroam/internal/secret"
	"github.com/evroam/evroam/internal/web"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const testKey = "3f1c2e6a9b3d4f5061728394a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e"

// env is the firmware API (with maxSize) and, on a server of its own, the public file
// downloads that stations use.
type env struct {
	*apitest.Env
	svc    *firmware.Service
	signer *files.Signer
	files  *httptest.Server
}

func newEnv(t *testing.T, maxSize int64) *env {
	t.Helper()
	key, err := secret.ParseKey(testKey)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{signer: files.NewSigner(key, nil)}
	e.Env = apitest.New(t, func(db *sqlx.DB, v1 *gin.RouterGroup) {
		e.svc = firmware.NewService(db, firmware.NewStore(db), files.NewStore(db), nil)
		firmware.NewHandler(e.svc, firmware.Config{MaxSize: maxSize}).Routes(v1)
	})
	r := gin.New()
	r.NoRoute(web.NotFoundHandler)
	files.NewHandler(e.DB, files.NewStore(e.DB), e.signer).PublicRoutes(r)
	e.files = httptest.NewServer(r)
	t.Cleanup(e.files.Close)
	return e
}

// upload posts body raw with the fields in query and returns the status and body.
func (e *env) upload(t *testing.T, key, query string, body io.Reader, length int64) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.Server.URL+"/api/v1/firmware?"+query, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length // -1: chunked, the length unknown
	req.Header.Set("X-API-Key", key)
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func decode(t *testing.T, b []byte) firmware.Response {
	t.Helper()
	var env struct{ Data firmware.Response }
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return env.Data
}

// fileURL is the signed download URL of firmware id, as firmware/update hands it out.
func (e *env) fileURL(t *testing.T, id uuid.UUID, method string, expires time.Time) string {
	t.Helper()
	var fileID uuid.UUID
	if err := e.DB.Get(&fileID, `SELECT file_id FROM firmware WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	u, err := e.signer.URL(e.files.URL, method, fileID, expires)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// heapPeak samples the heap while run runs and returns how far it grew above where it was.
func heapPeak(t *testing.T, run func()) uint64 {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	run()
	close(done)
	wg.Wait()
	if peak.Load() < base {
		return 0
	}
	return peak.Load() - base
}

// image is a deterministic stream of n pseudo-random bytes (incompressible, like firmware).
func image(n int64) io.Reader {
	return io.LimitReader(mrand.NewChaCha8([32]byte{1, 2, 3}), n)
}

// TestLargeUploadAndRangedDownloadInFlatMemory: a 100 MB image goes into the store and comes
// back out, whole and from the middle (HTTP Range, as a station resumes), while the heap
// grows by a small fraction of its size.
func TestLargeUploadAndRangedDownloadInFlatMemory(t *testing.T) {
	const size = 100 << 20
	const flat = 40 << 20 // far below the image's 100 MB
	e := newEnv(t, 0)

	var status int
	var body []byte
	grew := heapPeak(t, func() {
		status, body = e.upload(t, e.Key, "vendor=Alfen&model=Eve%20Single&version=6.2.0", image(size), -1)
	})
	if status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, body)
	}
	t.Logf("heap growth during the %d MB upload: %.1f MB", size>>20, float64(grew)/(1<<20))
	if grew > flat {
		t.Errorf("the heap grew by %d MB during a %d MB upload, want under %d MB", grew>>20, size>>20, flat>>20)
	}
	want := sha256.New()
	io.Copy(want, image(size))
	fw := decode(t, body)
	if fw.Size != size || fw.SHA256 != hex.EncodeToString(want.Sum(nil)) || fw.Vendor != "Alfen" || fw.Model != "Eve Single" || fw.Version != "6.2.0" {
		t.Fatalf("uploaded firmware %+v, want the size, sha256 and fields of the image", fw)
	}
	got := e.Do("GET", "/api/v1/firmware/"+fw.ID.String(), nil).Must(t, 200)
	var again firmware.Response
	got.Decode(t, &again)
	if again != fw {
		t.Errorf("GET /firmware/{id} = %+v, want %+v", again, fw)
	}

	// A resumed download: the last 40 MB and a bit, from a byte inside a chunk.
	const from = 60<<20 + 12345
	u := e.fileURL(t, fw.ID, http.MethodGet, time.Now().Add(time.Hour))
	var res *http.Response
	var part = sha256.New()
	grew = heapPeak(t, func() {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", from))
		var err error
		if res, err = http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		io.Copy(part, res.Body)
	})
	if res.StatusCode != http.StatusPartialContent || res.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", from, size-1, size) {
		t.Fatalf("ranged download: %d Content-Range %q", res.StatusCode, res.Header.Get("Content-Range"))
	}
	if res.Header.Get("ETag") != `"`+fw.SHA256+`"` {
		t.Errorf("ETag %q, want the sha256", res.Header.Get("ETag"))
	}
	tail := sha256.New()
	rd := image(size)
	io.CopyN(io.Discard, rd, from)
	io.Copy(tail, rd)
	if !bytes.Equal(part.Sum(nil), tail.Sum(nil)) {
		t.Errorf("the ranged download is not the image's bytes from %d", from)
	}
	t.Logf("heap growth during the %d MB download: %.1f MB", (size-from)>>20, float64(grew)/(1<<20))
	if grew > flat {
		t.Errorf("the heap grew by %d MB during a %d MB download, want under %d MB", grew>>20, (size-from)>>20, flat>>20)
	}
}

// TestStalledUploadIsCutOff: an upload that stops sending is ended after
// files.UploadIdleTimeout (not the server's whole-request timeout, which a large upload on a
// slow line may exceed), keeping nothing.
func TestStalledUploadIsCutOff(t *testing.T) {
	defer func(d time.Duration) { files.UploadIdleTimeout = d }(files.UploadIdleTimeout)
	files.UploadIdleTimeout = 300 * time.Millisecond
	e := newEnv(t, 0)
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write(make([]byte, 3<<20)) // then nothing: the sender stalls
	done := make(chan int, 1)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.Server.URL+"/api/v1/firmware?vendor=V&model=M&version=1", pr)
	req.Header.Set("X-API-Key", e.Key)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0 // the connection was cut: also an end
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	select {
	case status := <-done:
		if status != http.StatusBadRequest && status != 0 {
			t.Errorf("stalled upload: %d, want 400 (or the connection cut)", status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stalled upload was not cut off")
	}
	if f, c := countFiles(t, e.DB); f != 0 || c != 0 {
		t.Errorf("a stalled upload kept %d files, %d chunks", f, c)
	}
}

func principalOfRoot(e *env) auth.Principal {
	return auth.Principal{NetworkID: e.Root.ID, Networks: []uuid.UUID{e.Root.ID}}
}

// countFiles is how many files and chunks the store holds.
func countFiles(t *testing.T, db *sqlx.DB) (int, int) {
	t.Helper()
	var f, c int
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM files), (SELECT count(*) FROM file_chunks)`).Scan(&f, &c); err != nil {
		t.Fatal(err)
	}
	return f, c
}

func fieldsOf(t *testing.T, b []byte) []string {
	t.Helper()
	var env struct{ Errors []web.FieldErrorJSON }
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	var out []string
	for _, f := range env.Errors {
		if f.Message == "" {
			t.Errorf("field %s has no message", f.Field)
		}
		out = append(out, f.Field)
	}
	return out
}

// testCertificate is a PEM certificate, as a firmware signing certificate.
func testCertificate(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "firmware signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// multipartBody builds a multipart upload: fields before the file, the file, fields after.
func multipartBody(t *testing.T, before map[string]string, file []byte, after map[string]string) (string, *bytes.Buffer) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range before {
		w.WriteField(k, v)
	}
	if file != nil {
		fw, _ := w.CreateFormFile("file", "dir/eve-6.2.0.bin")
		fw.Write(file)
	}
	for k, v := range after {
		w.WriteField(k, v)
	}
	w.Close()
	return w.FormDataContentType(), &b
}

func (e *env) postMultipart(t *testing.T, ct string, body io.Reader) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.Server.URL+"/api/v1/firmware", body)
	req.Header.Set("X-API-Key", e.Key)
	req.Header.Set("Content-Type", ct)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// TestUploads: a multipart upload with the signed-firmware fields on either side of the
// file, the answer and what a GET and a download give back.
func TestUploads(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	cert := testCertificate(t)
	content := []byte("firmware image bytes")
	ct, body := multipartBody(t, map[string]string{"vendor": "Alfen", "model": "Eve", "signing_certificate": cert},
		content, map[string]string{"version": "6.2.0", "signature": "c2lnbmF0dXJl"})
	status, b := e.postMultipart(t, ct, body)
	if status != http.StatusCreated {
		t.Fatalf("multipart upload: %d %s", status, b)
	}
	fw := decode(t, b)
	sum := sha256.Sum256(content)
	if fw.Version != "6.2.0" || fw.SigningCertificate == nil || *fw.SigningCertificate != cert || fw.Signature == nil ||
		*fw.Signature != "c2lnbmF0dXJl" || fw.FileName != "eve-6.2.0.bin" || fw.Size != int64(len(content)) ||
		fw.SHA256 != hex.EncodeToString(sum[:]) || fw.NetworkID != e.Root.ID {
		t.Errorf("uploaded %+v", fw)
	}
	res, err := http.Get(e.fileURL(t, fw.ID, http.MethodGet, time.Now().Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Equal(got, content) || !strings.Contains(res.Header.Get("Content-Disposition"), "eve-6.2.0.bin") {
		t.Errorf("download: %d %q %q", res.StatusCode, got, res.Header.Get("Content-Disposition"))
	}

	// An empty image is a file too (size 0); a raw upload may name its file.
	status, b = e.upload(t, e.Key, "vendor=V&model=M&version=1&file_name=empty.bin", strings.NewReader(""), 0)
	if status != http.StatusCreated {
		t.Fatalf("empty upload: %d %s", status, b)
	}
	if fw := decode(t, b); fw.Size != 0 || fw.FileName != "empty.bin" {
		t.Errorf("empty upload %+v", fw)
	}
}

// TestUploadRefusals: every bad field named at once, bodies past the limit (413), and none
// of it stored.
func TestUploadRefusals(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	e := newEnv(t, limit)
	for _, tc := range []struct {
		name  string
		query string
		want  []string
	}{
		{"missing", "", []string{"model", "vendor", "version"}},
		{"bad values", "vendor=" + strings.Repeat("v", 51) + "&model=a%0Ab&version=1&signing_certificate=nope&signature=%25%25&file_name=..%2F..%2Fetc&colour=red",
			[]string{"colour", "file_name", "model", "signature", "signing_certificate", "vendor"}},
	} {
		status, b := e.upload(t, e.Key, tc.query, strings.NewReader("x"), 1)
		if status != http.StatusUnprocessableEntity {
			t.Fatalf("%s: status %d %s, want 422", tc.name, status, b)
		}
		got := fieldsOf(t, b)
		slices.Sort(got)
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: fields %v, want %v", tc.name, got, tc.want)
		}
	}
	const ok = "vendor=V&model=M&version=1"
	// Fields in a JSON body: not an image.
	e.Do("POST", "/api/v1/firmware?"+ok, map[string]any{"vendor": "V"}).Must(t, http.StatusUnsupportedMediaType)
	// Announced too large: refused before a byte is read.
	if status, b := e.upload(t, e.Key, ok, image(limit+1), limit+1); status != http.StatusRequestEntityTooLarge {
		t.Errorf("Content-Length past the limit: %d %s, want 413", status, b)
	}
	// Chunked, so the size shows only as it streams in.
	if status, b := e.upload(t, e.Key, ok, image(3*limit), -1); status != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body past the limit: %d %s, want 413", status, b)
	}
	// Exactly the limit is fine.
	if status, b := e.upload(t, e.Key, ok, image(limit), -1); status != http.StatusCreated {
		t.Errorf("body of the limit: %d %s, want 201", status, b)
	}
	// Multipart: no file; bad fields before the file (refused before the file is read);
	// bad fields after it (refused once they arrive).
	ct, body := multipartBody(t, map[string]string{"vendor": "V", "model": "M", "version": "1"}, nil, nil)
	if status, b := e.postMultipart(t, ct, body); status != 422 || strings.Join(fieldsOf(t, b), ",") != "file" {
		t.Errorf("multipart without a file: %d %s, want 422 naming file", status, b)
	}
	ct, body = multipartBody(t, map[string]string{"vendor": "", "model": "M"}, []byte("x"), map[string]string{"version": "1"})
	if status, b := e.postMultipart(t, ct, body); status != 422 || strings.Join(fieldsOf(t, b), ",") != "vendor" {
		t.Errorf("multipart with an empty vendor: %d %s, want 422 naming vendor", status, b)
	}
	ct, body = multipartBody(t, map[string]string{"vendor": "V"}, []byte("x"), map[string]string{"signature": "%%"})
	if status, b := e.postMultipart(t, ct, body); status != 422 {
		t.Errorf("multipart with bad fields after the file: %d %s, want 422", status, b)
	} else if got := fieldsOf(t, b); strings.Join(got, ",") != "model,version,signature" {
		t.Errorf("multipart with bad fields after the file named %v", got)
	}
	ct, body = multipartBody(t, map[string]string{"vendor": "V", "model": "M", "version": "1"}, bytes.Repeat([]byte("x"), limit+1), nil)
	if status, b := e.postMultipart(t, ct, body); status != http.StatusRequestEntityTooLarge {
		t.Errorf("multipart file past the limit: %d %s, want 413", status, b)
	}
	if f, c := countFiles(t, e.DB); f != 1 || c != 1 {
		t.Errorf("the store holds %d files and %d chunks, want only the one accepted upload (1 chunk)", f, c)
	}
}

// TestNetworksAndDelete: firmware is its network's (and the networks above): another
// network's key gets 404 for it and an empty list; a delete removes the bytes too, and its
// download URL stops working.
func TestNetworksAndDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	sub, subKey := e.Network(uuid.Nil, "SUB")
	_, otherKey := e.Network(uuid.Nil, "OTH")
	status, b := e.upload(t, subKey, "vendor=V&model=M&version=1", strings.NewReader("sub image"), -1)
	if status != 201 {
		t.Fatalf("upload: %d %s", status, b)
	}
	fw := decode(t, b)
	if fw.NetworkID != sub.ID {
		t.Errorf("network %s, want the uploading key's %s", fw.NetworkID, sub.ID)
	}
	for i := range 2 {
		e.upload(t, e.Key, fmt.Sprintf("vendor=V&model=M&version=root-%d", i), strings.NewReader("root image"), -1)
	}
	path := "/api/v1/firmware/" + fw.ID.String()
	e.DoKey(otherKey, "GET", path, nil).Must(t, 404)
	e.DoKey(otherKey, "DELETE", path, nil).Must(t, 404)
	if r := e.DoKey(otherKey, "GET", "/api/v1/firmware", nil).Must(t, 200); r.Header.Get("X-Total-Count") != "0" || string(r.Data) != "[]" {
		t.Errorf("another network lists %s (total %s)", r.Data, r.Header.Get("X-Total-Count"))
	}
	if r := e.DoKey(subKey, "GET", "/api/v1/firmware", nil).Must(t, 200); r.Header.Get("X-Total-Count") != "1" {
		t.Errorf("the sub-network lists %s", r.Data)
	}
	// The root sees all three, two to a page.
	r := e.Do("GET", "/api/v1/firmware?limit=2", nil).Must(t, 200)
	var page []firmware.Response
	r.Decode(t, &page)
	if r.Header.Get("X-Total-Count") != "3" || len(page) != 2 || !strings.Contains(r.Header.Get("Link"), `rel="next"`) {
		t.Fatalf("root list: total %s, %d items, Link %q", r.Header.Get("X-Total-Count"), len(page), r.Header.Get("Link"))
	}
	next := strings.TrimSuffix(strings.TrimPrefix(strings.Split(r.Header.Get("Link"), ";")[0], "<"), ">")
	var rest []firmware.Response
	e.Do("GET", next, nil).Must(t, 200).Decode(t, &rest)
	if len(rest) != 1 || rest[0].ID == page[0].ID || rest[0].ID == page[1].ID {
		t.Errorf("second page %+v", rest)
	}
	e.Do("GET", "/api/v1/firmware?vendor=nobody", nil).Must(t, 200)
	e.Do("GET", "/api/v1/firmware?limit=x", nil).Must(t, 400)
	e.Do("GET", "/api/v1/firmware/not-a-uuid", nil).Must(t, 404)

	u := e.fileURL(t, fw.ID, http.MethodGet, time.Now().Add(time.Hour))
	e.DoKey(subKey, "DELETE", path, nil).Must(t, 204)
	e.DoKey(subKey, "GET", path, nil).Must(t, 404)
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("download of deleted firmware: %d, want 404", res.StatusCode)
	}
	if f, c := countFiles(t, e.DB); f != 2 || c != 2 {
		t.Errorf("after the delete the store holds %d files, %d chunks; want the 2 others", f, c)
	}
}

// TestSignedURLs: a download URL works without an API key until it expires; an expired,
// forged or altered one is a 403, as is an upload URL used to download.
func TestSignedURLs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	status, b := e.upload(t, e.Key, "vendor=V&model=M&version=1", strings.NewReader("0123456789"), -1)
	if status != 201 {
		t.Fatalf("upload: %d %s", status, b)
	}
	fw := decode(t, b)
	get := func(u string, header ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	good := e.fileURL(t, fw.ID, http.MethodGet, time.Now().Add(time.Hour))
	if status, body := get(good, "Range", "bytes=2-4"); status != 206 || body != "234" {
		t.Errorf("ranged download: %d %q, want 206 \"234\"", status, body)
	}
	if status, body := get(good); status != 200 || body != "0123456789" {
		t.Errorf("download: %d %q", status, body)
	}
	if res, err := http.Head(good); err != nil || res.StatusCode != 200 || res.ContentLength != 10 || res.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("HEAD: %v %+v", err, res)
	}
	tamper := func(u string, f func(q url.Values, path string) string) string {
		pu, _ := url.Parse(u)
		q := pu.Query()
		pu.Path = f(q, pu.Path)
		pu.RawQuery = q.Encode()
		return pu.String()
	}
	other := uuid.New()
	stored, _ := e.svc.Get(t.Context(), principalOfRoot(e), fw.ID)
	for name, u := range map[string]string{
		"expired":    e.fileURL(t, fw.ID, http.MethodGet, time.Now().Add(-time.Second)),
		"upload URL": e.fileURL(t, fw.ID, http.MethodPut, time.Now().Add(time.Hour)),
		"forged":     tamper(good, func(q url.Values, p string) string { q.Set("sig", strings.Repeat("A", 43)); return p }),
		"no sig":     tamper(good, func(q url.Values, p string) string { q.Del("sig"); return p }),
		"extended":   tamper(good, func(q url.Values, p string) string { q.Set("expires", "99999999999"); return p }),
		"other file": tamper(good, func(q url.Values, p string) string {
			return strings.Replace(p, stored.File.ID.String(), other.String(), 1)
		}),
		"other key":       mustURL(t, files.NewSigner(mustKey(t, strings.Repeat("ab", 32)), nil), e.files.URL, stored.File.ID),
		"extra parameter": good + "&x=1",
	} {
		status, body := get(u)
		want := 403
		if name == "extra parameter" {
			want = 200 // an extra parameter does not break a URL
		}
		if status != want {
			t.Errorf("%s: %d %s, want %d", name, status, body, want)
		}
	}
	// A signed URL of a file that does not exist: 404.
	u, _ := e.signer.URL(e.files.URL, http.MethodGet, other, time.Now().Add(time.Hour))
	if status, _ := get(u); status != 404 {
		t.Errorf("signed URL of a missing file: %d, want 404", status)
	}
	// Without EVROAM_SECRET_KEY no URL is made, and none is accepted.
	if _, err := files.NewSigner(nil, nil).URL(e.files.URL, http.MethodGet, stored.File.ID, time.Now().Add(time.Hour)); err == nil {
		t.Error("a signer without a key made a URL")
	}
	if err := files.NewSigner(nil, nil).Check(http.MethodGet, stored.File.ID, "1", "x"); err == nil {
		t.Error("a signer without a key accepted a URL")
	}
}

func mustKey(t *testing.T, s string) *secret.Key {
	t.Helper()
	k, err := secret.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustURL(t *testing.T, s *files.Signer, base string, id uuid.UUID) string {
	t.Helper()
	u, err := s.URL(base, http.MethodGet, id, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return u
}
