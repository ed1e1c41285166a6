// Command ce-conformance-go is a CloudEvents receiver built on the Go SDK
// (github.com/cloudevents/sdk-go/v2), an implementation nobody on this
// project wrote. cts-exporter's conformance test points K_SINK at it.
//
// Each request is read by the SDK (binary or structured content mode) and
// checked against the CloudEvents 1.0.2 core spec and HTTP binding:
//
//   - spec version 1.0 and event.Validate() (required attributes);
//   - id equals the trace id in the data (`trace_id`);
//   - extension names are lower-case a-z and 0-9, at most 20 characters;
//   - time is RFC 3339 in UTC, written with `Z`;
//   - binary mode: every ce-* header value is printable ASCII without space
//     or double quote, every `%` starts an upper-case `%XY` escape, and the
//     value percent-decodes (HTTP binding section 3.1.3.2) to valid UTF-8.
//     sdk-go v2.16.2 does not decode header values itself, so the decoding
//     is done here on what the SDK read;
//   - the decoded text equals the data's text byte for byte: subject against
//     resource_name (else resource_id), user against user.name, and the
//     other extensions the exporter derives from the trace.
//
// Valid events are answered 200, invalid ones 400 with the problems as the
// body. Every request becomes one JSON line in -out with the decoded
// attributes and the problems found, so a test can compare what arrived
// with what the emulator generated.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// Record is one received request, as written to the output file.
type Record struct {
	Mode       string            `json:"mode"`
	ID         string            `json:"id"`
	Source     string            `json:"source"`
	Type       string            `json:"type"`
	Subject    *string           `json:"subject"`
	Time       string            `json:"time"`
	Extensions map[string]string `json:"extensions"`
	DataID     string            `json:"data_trace_id"`
	Problems   []string          `json:"problems"`
}

var extName = regexp.MustCompile(`^[a-z0-9]{1,20}$`)

type receiver struct {
	mu  sync.Mutex
	out *os.File
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	outPath := flag.String("out", "received.jsonl", "file receiving one JSON line per request")
	addrFile := flag.String("addr-file", "", "file to write the bound address to, once listening")
	flag.Parse()

	out, err := os.OpenFile(*outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		log.Fatalf("cannot open -out %s: %v", *outPath, err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("cannot listen on %s: %v", *addr, err)
	}
	if *addrFile != "" {
		tmp := *addrFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(ln.Addr().String()), 0o644); err != nil {
			log.Fatalf("cannot write -addr-file: %v", err)
		}
		if err := os.Rename(tmp, *addrFile); err != nil {
			log.Fatalf("cannot write -addr-file: %v", err)
		}
	}
	log.Printf("listening on %s", ln.Addr())
	r := &receiver{out: out}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	rec := check(req)
	line, err := json.Marshal(rec)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	rc.mu.Lock()
	_, werr := rc.out.Write(append(line, '\n'))
	rc.mu.Unlock()
	if werr != nil {
		http.Error(w, werr.Error(), http.StatusInternalServerError)
		return
	}
	if len(rec.Problems) > 0 {
		http.Error(w, strings.Join(rec.Problems, "; "), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// check reads the request with sdk-go and validates the event.
func check(req *http.Request) Record {
	rec := Record{Extensions: map[string]string{}, Problems: []string{}}
	fail := func(format string, a ...any) { rec.Problems = append(rec.Problems, fmt.Sprintf(format, a...)) }

	body, err := io.ReadAll(req.Body)
	if err != nil {
		fail("cannot read the body: %v", err)
		return rec
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	msg := cehttp.NewMessageFromHttpRequest(req)
	switch msg.ReadEncoding() {
	case binding.EncodingBinary:
		rec.Mode = "binary"
	case binding.EncodingStructured:
		rec.Mode = "structured"
	default:
		rec.Mode = "unknown"
		fail("neither binary nor structured CloudEvent (content-type %q)", req.Header.Get("Content-Type"))
		return rec
	}
	ev, err := binding.ToEvent(context.Background(), msg)
	if err != nil {
		fail("sdk-go cannot read the event: %v", err)
		return rec
	}
	if ev.SpecVersion() != event.CloudEventsVersionV1 {
		fail("specversion %q, want 1.0", ev.SpecVersion())
	}
	if err := ev.Validate(); err != nil {
		fail("event.Validate: %v", err)
	}

	// In binary mode the SDK hands over header values as they came; decode
	// them as the HTTP binding says. Structured mode carries JSON strings.
	text := func(what, v string) string {
		if rec.Mode != "binary" {
			return v
		}
		if p := encodingProblem(v); p != "" {
			fail("%s: %s in %q", what, p, v)
		}
		d, err := percentDecode(v)
		if err != nil {
			fail("%s: %v in %q", what, err, v)
			return v
		}
		return d
	}
	rec.ID = text("id", ev.ID())
	rec.Source = text("source", ev.Source())
	rec.Type = text("type", ev.Type())
	if s := ev.Subject(); s != "" {
		d := text("subject", s)
		rec.Subject = &d
	}

	// Time: the text as sent, which must be RFC 3339 in UTC with Z.
	rawTime := ""
	if rec.Mode == "binary" {
		rawTime = req.Header.Get("Ce-Time")
	} else {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err == nil {
			if t, ok := m["time"]; ok {
				_ = json.Unmarshal(t, &rawTime)
			}
		}
	}
	rec.Time = rawTime
	if rawTime == "" {
		fail("no time")
	} else {
		t, err := time.Parse(time.RFC3339Nano, rawTime)
		switch {
		case err != nil:
			fail("time %q is not RFC 3339: %v", rawTime, err)
		case !strings.HasSuffix(rawTime, "Z"):
			fail("time %q is not written in UTC with Z", rawTime)
		case !t.Equal(ev.Time()):
			fail("time %q read by sdk-go as %v", rawTime, ev.Time())
		}
	}

	for name, v := range ev.Extensions() {
		if !extName.MatchString(name) {
			fail("extension name %q is not 1-20 lower-case a-z0-9", name)
		}
		s, ok := v.(string)
		if !ok {
			s = fmt.Sprint(v)
		}
		rec.Extensions[name] = text("extension "+name, s)
	}
	if rec.Mode == "binary" {
		// Header names as sent (Go canonicalizes them; the spec's names are
		// lower case, so compare lower-cased).
		for h := range req.Header {
			l := strings.ToLower(h)
			if strings.HasPrefix(l, "ce-") && !extName.MatchString(l[3:]) {
				fail("header %q is not ce- plus a valid attribute name", h)
			}
		}
	}

	compareWithData(ev, &rec, fail)
	return rec
}

// compareWithData checks id and the trace-derived attributes against the
// data, which is JSON and so carries the text unambiguously.
func compareWithData(ev *event.Event, rec *Record, fail func(string, ...any)) {
	var trace struct {
		TraceID      *string `json:"trace_id"`
		ResourceName *string `json:"resource_name"`
		ResourceID   *string `json:"resource_id"`
		ResourceType *string `json:"resource_type"`
		ServiceType  *string `json:"service_type"`
		TraceName    *string `json:"trace_name"`
		Code         *string `json:"code"`
		User         *struct {
			Name *string `json:"name"`
		} `json:"user"`
	}
	if err := json.Unmarshal(ev.Data(), &trace); err != nil {
		fail("data is not a JSON trace: %v", err)
		return
	}
	if trace.TraceID == nil {
		fail("data has no trace_id")
		return
	}
	rec.DataID = *trace.TraceID
	if rec.ID != *trace.TraceID {
		fail("id %q is not the data's trace_id %q", rec.ID, *trace.TraceID)
	}
	nonEmpty := func(p *string) (string, bool) {
		if p == nil || strings.TrimSpace(*p) == "" {
			return "", false
		}
		return strings.TrimSpace(*p), true
	}
	want := map[string]*string{}
	if s, ok := nonEmpty(trace.ResourceName); ok {
		want["subject"] = &s
	} else if s, ok := nonEmpty(trace.ResourceID); ok {
		want["subject"] = &s
	}
	got := func(name string) (string, bool) {
		if name == "subject" {
			if rec.Subject == nil {
				return "", false
			}
			return *rec.Subject, true
		}
		v, ok := rec.Extensions[name]
		return v, ok
	}
	if w, ok := want["subject"]; ok {
		g, has := got("subject")
		if !has || g != *w {
			fail("subject %q is not the data's %q (bytes %s vs %s)", g, *w, hexOf(g), hexOf(*w))
		}
	}
	pairs := []struct {
		ext string
		val *string
	}{
		{"resourceid", trace.ResourceID},
		{"resourcetype", trace.ResourceType},
		{"service", trace.ServiceType},
		{"operation", trace.TraceName},
	}
	if trace.User != nil {
		pairs = append(pairs, struct {
			ext string
			val *string
		}{"user", trace.User.Name})
	}
	for _, p := range pairs {
		w, ok := nonEmpty(p.val)
		if !ok {
			continue
		}
		g, has := got(p.ext)
		if !has || g != w {
			fail("extension %s %q is not the data's %q (bytes %s vs %s)", p.ext, g, w, hexOf(g), hexOf(w))
		}
	}
}

// encodingProblem says what in a header value breaks the binding's
// encoding rule, or "" when it follows it.
func encodingProblem(v string) string {
	for i := 0; i < len(v); i++ {
		b := v[i]
		switch {
		case b < 0x21 || b > 0x7e:
			return fmt.Sprintf("byte 0x%02X at %d is not printable ASCII (must be percent-encoded)", b, i)
		case b == '"':
			return fmt.Sprintf("double quote at %d (must be percent-encoded)", i)
		case b == '%':
			if i+2 >= len(v) || !isUpperHex(v[i+1]) || !isUpperHex(v[i+2]) {
				return fmt.Sprintf("%% at %d does not start an upper-case %%XY escape", i)
			}
		}
	}
	return ""
}

func isUpperHex(b byte) bool {
	return (b >= '0' && b <= '9') || (b >= 'A' && b <= 'F')
}

// percentDecode is the binding's decoding: unquote a double-quoted value,
// then one round of percent-decoding (either hex case) to valid UTF-8.
func percentDecode(v string) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		// RFC 7230 section 3.2.6 quoted-string: a backslash escapes the next byte.
		var u []byte
		inner := v[1 : len(v)-1]
		for i := 0; i < len(inner); i++ {
			if inner[i] == '\\' && i+1 < len(inner) {
				i++
			}
			u = append(u, inner[i])
		}
		v = string(u)
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			out = append(out, v[i])
			continue
		}
		if i+2 >= len(v) {
			return "", fmt.Errorf("truncated %% escape at %d", i)
		}
		n, err := strconv.ParseUint(v[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad %% escape %q at %d", v[i:i+3], i)
		}
		out = append(out, byte(n))
		i += 2
	}
	if !utf8.Valid(out) {
		return "", fmt.Errorf("decodes to invalid UTF-8")
	}
	return string(out), nil
}

func hexOf(s string) string {
	return fmt.Sprintf("%x", []byte(s))
}
