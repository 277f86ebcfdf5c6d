// The peer benchmark's load generator (bench/peer.bench.ts): one neutral S3 client for every
// target — direct MinIO, Floodgate, S3 Balance, the relay floor, the sidecar. Plain HTTP/1.1 with
// keep-alive (one connection per worker), SigV4 header auth with UNSIGNED-PAYLOAD (so no target is
// asked to hash, and the client hashes nothing), 256 KiB read and write buffers, every body drained
// and its length checked. It is written in Go so that the client costs little CPU next to what it
// measures and is not any target's own stack (Floodgate is Node, S3 Balance is Go's net/http on the
// server side only). Two methods stand for the embedded store's floor (bench/store-floor.ts):
// "cat" reads files through the same loop and buffer, no socket; "serve" is the other side of a
// fair floor — an HTTP server that streams the files to this client over loopback with a plain
// read/write loop (no sendfile, which Node cannot do), the least a gateway serving them must do.
// "relay" is the Go socket relay floor beside bench/relay.ts: TCP bytes copied both ways, no HTTP.
//
// Every run is bounded by -max-ops and -max-seconds. The result is one JSON line on stdout; any
// status other than 200 or a body of the wrong length fails the run (exit 1).
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const bufSize = 256 << 10

var pattern = func() []byte {
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte((uint32(i) * 2654435761) >> 24)
	}
	return b
}()

// patternBody yields n bytes cut from the shared 1 MiB pattern, without allocating.
type patternBody struct{ off, n int64 }

func (p *patternBody) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	at := p.off % int64(len(pattern))
	m := copy(b, pattern[at:min(int64(len(pattern)), at+p.n-p.off)])
	p.off += int64(m)
	return m, nil
}

type config struct {
	endpoint, bucket, prefix, access, secret, region, method string
	size                                                     int64
	keys, conc, maxOps                                       int
	maxSeconds                                               float64
	files                                                    []string
}

type result struct {
	Ops     int     `json:"ops"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	P50Ms   float64 `json:"p50Ms"`
	P99Ms   float64 `json:"p99Ms"`
	// The load generator's own CPU seconds, to show it is not the bottleneck.
	UserS float64 `json:"userS"`
	SysS  float64 `json:"sysS"`
}

func main() {
	var c config
	flag.StringVar(&c.endpoint, "endpoint", "", "http://host:port")
	flag.StringVar(&c.bucket, "bucket", "", "bucket (path style)")
	flag.StringVar(&c.prefix, "prefix", "", "key prefix; key i is prefix + i")
	flag.StringVar(&c.access, "access", "", "access key id")
	flag.StringVar(&c.secret, "secret", "", "secret access key")
	flag.StringVar(&c.region, "region", "us-east-1", "SigV4 region")
	flag.StringVar(&c.method, "method", "GET", "GET, HEAD, PUT, cat (read the files given as arguments), serve (serve them over HTTP) or relay (to the host:port given as argument)")
	flag.Int64Var(&c.size, "size", 0, "object size in bytes (GETs check it)")
	flag.IntVar(&c.keys, "keys", 1, "number of keys to cycle through")
	flag.IntVar(&c.conc, "conc", 1, "workers, one connection each")
	flag.IntVar(&c.maxOps, "max-ops", 1, "stop after this many operations")
	flag.Float64Var(&c.maxSeconds, "max-seconds", 10, "stop starting operations after this many seconds")
	flag.Parse()
	c.files = flag.Args()
	if c.method == "serve" || c.method == "relay" {
		f := serve
		if c.method == "relay" {
			f = relay
		}
		if err := f(c.files); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		return
	}
	r, err := run(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

func run(c config) (result, error) {
	transport := &http.Transport{
		Proxy:               nil,
		MaxConnsPerHost:     c.conc,
		MaxIdleConnsPerHost: c.conc,
		IdleConnTimeout:     60 * time.Second,
		DisableCompression:  true,
		ReadBufferSize:      bufSize,
		WriteBufferSize:     bufSize,
	}
	client := &http.Client{Transport: transport, Timeout: 10 * time.Minute}
	defer transport.CloseIdleConnections()
	op := func(i int, buf []byte) (int64, error) { return request(client, c, i, buf) }
	if c.method == "cat" {
		if len(c.files) == 0 {
			return result{}, fmt.Errorf("cat needs files")
		}
		op = func(i int, buf []byte) (int64, error) { return cat(c.files[i%len(c.files)], c.size, buf) }
	}

	var next atomic.Int64
	var total atomic.Int64
	var mu sync.Mutex
	var latencies []float64
	var firstErr error
	start := time.Now()
	deadline := start.Add(time.Duration(c.maxSeconds * float64(time.Second)))
	var wg sync.WaitGroup
	for w := 0; w < c.conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, bufSize)
			for time.Now().Before(deadline) {
				i := int(next.Add(1) - 1)
				if i >= c.maxOps {
					return
				}
				t0 := time.Now()
				n, err := op(i, buf)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					next.Store(int64(c.maxOps))
					mu.Unlock()
					return
				}
				latencies = append(latencies, float64(time.Since(t0).Microseconds())/1000)
				mu.Unlock()
				total.Add(n)
			}
		}()
	}
	wg.Wait()
	seconds := time.Since(start).Seconds()
	if firstErr != nil {
		return result{}, firstErr
	}
	sort.Float64s(latencies)
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return result{
		Ops: len(latencies), Bytes: total.Load(), Seconds: seconds, P50Ms: rank(latencies, 50), P99Ms: rank(latencies, 99),
		UserS: time.Duration(ru.Utime.Nano()).Seconds(), SysS: time.Duration(ru.Stime.Nano()).Seconds(),
	}, nil
}

// rank is the nearest-rank percentile of sorted samples (as bench/table.ts computes it).
func rank(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[max(0, min(len(sorted)-1, i))]
}

func request(client *http.Client, c config, i int, buf []byte) (int64, error) {
	key := fmt.Sprintf("%s%d", c.prefix, i%c.keys)
	u := fmt.Sprintf("%s/%s/%s", c.endpoint, c.bucket, escapePath(key))
	var body io.Reader = http.NoBody
	if c.method == "PUT" {
		if c.size <= int64(len(pattern)) {
			body = bytes.NewReader(pattern[:c.size])
		} else {
			body = &patternBody{n: c.size}
		}
	}
	req, err := http.NewRequest(c.method, u, body)
	if err != nil {
		return 0, err
	}
	if c.method == "PUT" {
		req.ContentLength = c.size
	}
	sign(req, c)
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", c.method, key, err)
	}
	defer resp.Body.Close()
	var n int64
	for {
		m, err := resp.Body.Read(buf)
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("%s %s: body: %w", c.method, key, err)
		}
	}
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("%s %s: HTTP %d", c.method, key, resp.StatusCode)
	}
	if c.method == "GET" {
		if n != c.size {
			return 0, fmt.Errorf("GET %s: %d bytes, expected %d", key, n, c.size)
		}
		return n, nil
	}
	// HEAD moves no body: the object's length is checked in the headers and no bytes are counted.
	if c.method == "HEAD" {
		if n != 0 || resp.ContentLength != c.size {
			return 0, fmt.Errorf("HEAD %s: Content-Length %d and %d body bytes, expected %d and none", key, resp.ContentLength, n, c.size)
		}
		return 0, nil
	}
	return c.size, nil
}

func cat(path string, size int64, buf []byte) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	for {
		m, err := f.Read(buf)
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if size > 0 && n != size {
		return 0, fmt.Errorf("cat %s: %d bytes, expected %d", path, n, size)
	}
	return n, nil
}

// serve answers GET /<bucket>/<prefix><i> with file i (mod the count) on 127.0.0.1, streamed with
// one reused 256 KiB buffer: read from the file, write to the socket, as cat does into a pipe. It
// prints its address, then serves until its stdin closes (the bench that started it is gone).
func serve(files []string) error {
	if len(files) == 0 {
		return fmt.Errorf("serve needs files")
	}
	ln, err := listenUntilStdinCloses()
	if err != nil {
		return err
	}
	handler := func(w http.ResponseWriter, r *http.Request) {
		digits := len(r.URL.Path)
		for digits > 0 && r.URL.Path[digits-1] >= '0' && r.URL.Path[digits-1] <= '9' {
			digits--
		}
		i, err := strconv.Atoi(r.URL.Path[digits:])
		if r.Method != "GET" || err != nil {
			http.Error(w, "GET /bucket/key<n> only", http.StatusBadRequest)
			return
		}
		f, err := os.Open(files[i%len(files)])
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
		w.WriteHeader(http.StatusOK)
		// Not io.Copy: the ResponseWriter's ReadFrom would sendfile the file, skipping the copy
		// through user space that every Node server makes.
		buf := make([]byte, bufSize)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	return http.Serve(ln, http.HandlerFunc(handler))
}

// maxRelayConns bounds the relay's connections (the bench opens at most a few per cell).
const maxRelayConns = 64

// relay accepts on 127.0.0.1 and pipes each connection to the upstream host:port with io.Copy both
// ways. Between two *net.TCPConn io.Copy is the destination's ReadFrom, which on Linux moves the
// bytes with splice(2) through a pipe (socket -> pipe -> socket) without copying them into user
// space — strace shows splice calls of about 1 MiB each, in and out, and no read or write: the
// least any proxy on this machine can spend. Like serve, it prints its address and
// runs until its stdin closes.
func relay(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("relay needs one upstream host:port")
	}
	upstream := args[0]
	ln, err := listenUntilStdinCloses()
	if err != nil {
		return err
	}
	slots := make(chan struct{}, maxRelayConns)
	for {
		client, err := ln.Accept()
		if err != nil {
			return err
		}
		slots <- struct{}{}
		go func() {
			defer func() { <-slots }()
			defer client.Close()
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				return
			}
			defer up.Close()
			done := make(chan struct{})
			go func() {
				_, _ = io.Copy(up, client)
				_ = up.(*net.TCPConn).CloseWrite()
				close(done)
			}()
			_, _ = io.Copy(client, up)
			_ = client.(*net.TCPConn).CloseWrite()
			<-done
		}()
	}
}

// escapePath percent-encodes a key as SigV4 wants it for S3 (every byte but unreserved ones and '/').
func escapePath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || strings.IndexByte("-._~/", ch) >= 0 {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// sign adds SigV4 header auth (host, x-amz-content-sha256: UNSIGNED-PAYLOAD, x-amz-date).
func sign(req *http.Request, c config) {
	now := time.Now().UTC()
	amzDate := now.Format("20060102T150405Z")
	day := amzDate[:8]
	req.Header.Set("x-amz-date", amzDate)
	req.Header.Set("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
	canonical := strings.Join([]string{
		req.Method,
		req.URL.EscapedPath(),
		"",
		"host:" + req.URL.Host + "\nx-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:" + amzDate + "\n",
		"host;x-amz-content-sha256;x-amz-date",
		"UNSIGNED-PAYLOAD",
	}, "\n")
	sum := sha256.Sum256([]byte(canonical))
	scope := day + "/" + c.region + "/s3/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	k := hmacSHA256([]byte("AWS4"+c.secret), day)
	k = hmacSHA256(k, c.region)
	k = hmacSHA256(k, "s3")
	k = hmacSHA256(k, "aws4_request")
	sig := hex.EncodeToString(hmacSHA256(k, toSign))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+c.access+"/"+scope+", SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="+sig)
}

// listenUntilStdinCloses listens on 127.0.0.1 (a free port), prints the address and exits the
// process once stdin closes: the bench that started it is gone.
func listenUntilStdinCloses() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	fmt.Println(ln.Addr().String())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	return ln, nil
}
