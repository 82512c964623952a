// Admission load as the API server sends it: AdmissionReviews on kept-alive TLS connections
// (HTTP/1.1, only the CA trusted, TCP_NODELAY as Go sets it), one goroutine per connection,
// so the generator neither serialises its own work on one event loop nor lets it queue
// ahead of a review's clock. Each review is one write of the whole request and is timed
// from that write to the last byte of its answer. Three shapes:
//
//	rate    open loop: `rate` reviews/s, issued on schedule whatever the answers; a review
//	        that finds every connection busy is timed from when it was due instead, so a
//	        slow webhook is charged for the queue behind it (no coordinated omission);
//	burst   `connections` reviews at once (a rollout creating that many pods), the next
//	        burst 50 ms after the last answer;
//	closed  `connections` in flight, each sent as soon as the last is answered: capacity.
//
// Runs `warmupSeconds` unmeasured, then `seconds`. Prints one JSON line: reviews, errors,
// seconds, perSecond, p50Ms, p90Ms, p99Ms, maxMs; lateP99Ms, how late the generator issued
// the open loop's reviews (its own timer and scheduling, not counted in the latencies); and
// cpuMsPerReview, the generator's own CPU.
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"
)

type params struct {
	Port          int     `json:"port"`
	CA            string  `json:"ca"`
	Body          string  `json:"body"`
	Mode          string  `json:"mode"`
	Connections   int     `json:"connections"`
	Rate          float64 `json:"rate"`
	Seconds       float64 `json:"seconds"`
	WarmupSeconds float64 `json:"warmupSeconds"`
}

const burstPause = 50 * time.Millisecond

type conn struct {
	tls    *tls.Conn
	reader *bufio.Reader
}

// review writes the request in one write and reads the whole answer.
func (c *conn) review(request []byte) error {
	if _, err := c.tls.Write(request); err != nil {
		return err
	}
	res, err := http.ReadResponse(c.reader, nil)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK || n == 0 || res.Close {
		return fmt.Errorf("status %d, %d bytes", res.StatusCode, n)
	}
	return nil
}

// recorder keeps latencies (ms) while recording, and counts errors.
type recorder struct {
	mu        sync.Mutex
	recording bool
	latencies []float64
	late      []float64
	errors    int
}

func (r *recorder) done(since time.Time, err error) {
	ms := float64(time.Since(since).Nanoseconds()) / 1e6
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errors++
	} else if r.recording {
		r.latencies = append(r.latencies, ms)
	}
}

func (r *recorder) issuedLate(ms float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recording {
		r.late = append(r.late, ms)
	}
}

func cpuSeconds() float64 {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return float64(u.Utime.Nano()+u.Stime.Nano()) / 1e9
}

func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(math.Min(float64(len(sorted)-1), math.Floor(q*float64(len(sorted)))))]
}

func round(ms float64) float64 { return math.Round(ms*1000) / 1000 }

func main() {
	var p params
	if err := json.Unmarshal([]byte(os.Args[1]), &p); err != nil {
		fail(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(p.CA)) {
		fail(errors.New("no certificate in ca"))
	}
	address := fmt.Sprintf("127.0.0.1:%d", p.Port)
	request := []byte(fmt.Sprintf(
		"POST /mutate?timeout=5s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		address, len(p.Body), p.Body))
	free := make(chan *conn, p.Connections)
	for i := 0; i < p.Connections; i++ {
		c, err := tls.Dial("tcp", address, &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
		if err != nil {
			fail(err)
		}
		defer c.Close()
		free <- &conn{tls: c, reader: bufio.NewReader(c)}
	}
	rec := &recorder{}
	// send reviews on c, timed from its write or, when given, from `since`; c is free again after.
	send := func(c *conn, since *time.Time, wg *sync.WaitGroup) {
		defer wg.Done()
		start := time.Now()
		if since != nil {
			start = *since
		}
		rec.done(start, c.review(request))
		free <- c
	}
	load := func(until time.Time) {
		var wg sync.WaitGroup
		switch p.Mode {
		case "closed":
			for i := 0; i < p.Connections; i++ {
				c := <-free
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Now().Before(until) {
						start := time.Now()
						rec.done(start, c.review(request))
					}
					free <- c
				}()
			}
		case "burst":
			for time.Now().Before(until) {
				var burst sync.WaitGroup
				for i := 0; i < p.Connections; i++ {
					burst.Add(1)
					go send(<-free, nil, &burst)
				}
				burst.Wait()
				time.Sleep(burstPause)
			}
		default:
			interval := time.Duration(float64(time.Second) / p.Rate)
			for due := time.Now(); due.Before(until); due = due.Add(interval) {
				time.Sleep(time.Until(due))
				rec.issuedLate(float64(time.Since(due).Nanoseconds()) / 1e6)
				wg.Add(1)
				select {
				case c := <-free:
					go send(c, nil, &wg)
				default:
					// Every connection busy: the wait for one is the webhook's.
					d := due
					go send(<-free, &d, &wg)
				}
			}
		}
		wg.Wait()
	}
	load(time.Now().Add(time.Duration(p.WarmupSeconds * float64(time.Second))))
	rec.recording, rec.errors = true, 0
	cpuBefore, started := cpuSeconds(), time.Now()
	load(started.Add(time.Duration(p.Seconds * float64(time.Second))))
	elapsed := time.Since(started).Seconds()
	cpu := cpuSeconds() - cpuBefore
	rec.mu.Lock()
	defer rec.mu.Unlock()
	sort.Float64s(rec.latencies)
	sort.Float64s(rec.late)
	n := len(rec.latencies)
	out, _ := json.Marshal(map[string]interface{}{
		"reviews":        n,
		"errors":         rec.errors,
		"seconds":        round(elapsed),
		"perSecond":      math.Round(float64(n) / elapsed),
		"p50Ms":          round(percentile(rec.latencies, 0.5)),
		"p90Ms":          round(percentile(rec.latencies, 0.9)),
		"p99Ms":          round(percentile(rec.latencies, 0.99)),
		"maxMs":          round(percentile(rec.latencies, 1)),
		"lateP99Ms":      round(percentile(rec.late, 0.99)),
		"cpuMsPerReview": round(cpu * 1000 / math.Max(1, float64(n))),
	})
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "admission: %v\n", err)
	os.Exit(1)
}
