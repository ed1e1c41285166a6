// Command go-sdk-signer signs generated requests with the OTC Go SDK's own signer
// (gophertelekomcloud golangsdk.Sign, as its ProviderClient calls it: empty region and service)
// and prints them as JSON, one object per line, for otc-auth's differential test
// (otc-auth/tests/otc_auth/go_sdk.rs). The requests are of the shapes our clients send (GET with
// distinct query keys, POST with a body; single, unpadded header values), filled with hostile data:
// non-ASCII, reserved characters, empty and long values.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	golangsdk "github.com/opentelekomcloud/gophertelekomcloud"
)

type signed struct {
	Method        string     `json:"method"`
	URL           string     `json:"url"`
	Headers       [][]string `json:"headers"`
	Body          string     `json:"body"`
	Date          string     `json:"date"`
	AK            string     `json:"ak"`
	SK            string     `json:"sk"`
	Authorization string     `json:"authorization"`
}

var alphabet = []string{
	"a", "Z", "0", "-", "_", ".", "~", " ", "+", "%", "&", "=", "?", "/", ":", "@", "!", "$", "'", "(", ")",
	"*", ",", ";", "#", "[", "]", "\"", "<", ">", "\\", "^", "`", "{", "|", "}",
	"ü", "é", "一", "😀", "\u00a0", "\u200b", "ß", "Ω",
}

func text(r *rand.Rand, max int) string {
	n := r.Intn(max + 1)
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(alphabet[r.Intn(len(alphabet))])
	}
	return b.String()
}

func main() {
	n := 300
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil {
			n = v
		}
	}
	r := rand.New(rand.NewSource(14))
	enc := json.NewEncoder(os.Stdout)
	if len(os.Args) > 2 && os.Args[2] == "quirks" {
		quirks(r, n, enc)
		return
	}
	for i := 0; i < n; i++ {
		// Path: segments of hostile text, escaped as a client would send them.
		var segs []string
		for s := 0; s < 1+r.Intn(4); s++ {
			segs = append(segs, url.PathEscape(text(r, 12)))
		}
		path := "/" + strings.Join(segs, "/")
		if i%50 == 0 {
			path = "/"
		}
		// Query: distinct lower-case keys, hostile values (empty, long).
		q := url.Values{}
		keys := []string{"limit", "from", "to", "next", "trace_id", "user", "resource_name", "service_type", "trace_rating"}
		for k := 0; k < r.Intn(len(keys)+1); k++ {
			v := text(r, 20)
			if r.Intn(10) == 0 {
				v = ""
			}
			if r.Intn(25) == 0 {
				v = strings.Repeat("x€", 3000)
			}
			q.Set(keys[r.Intn(len(keys))], v)
		}
		host := "cts.eu-de.otc.t-systems.com"
		if i%3 == 0 {
			host = "127.0.0.1:" + strconv.Itoa(1024+r.Intn(60000))
		}
		raw := "https://" + host + path
		if len(q) > 0 {
			raw += "?" + q.Encode()
		}
		method := "GET"
		var body []byte
		if i%4 == 1 {
			method = "POST"
			body = []byte(fmt.Sprintf(`{"auth":{"name":%q}}`, text(r, 40)))
		}
		req, err := http.NewRequest(method, raw, bytes.NewReader(body))
		if err != nil {
			fmt.Fprintln(os.Stderr, "request", i, err)
			os.Exit(1)
		}
		if body == nil {
			req.Body = nil
		}
		headers := [][]string{}
		set := func(k, v string) {
			req.Header.Set(k, v)
			headers = append(headers, []string{k, v})
		}
		if body != nil || r.Intn(2) == 0 {
			set("Content-Type", "application/json")
		}
		if r.Intn(2) == 0 {
			set("X-Project-Id", strings.Repeat("0391e448", 4))
		}
		if r.Intn(3) == 0 {
			set("Accept", "application/json")
		}
		ak := "AK" + strconv.Itoa(r.Intn(1_000_000))
		sk := "SK" + text(r, 30) + "end"
		golangsdk.Sign(req, golangsdk.SignOptions{AccessKey: ak, SecretKey: sk})
		if err := enc.Encode(signed{
			Method:        method,
			URL:           req.URL.String(),
			Headers:       headers,
			Body:          string(body),
			Date:          req.Header.Get("X-Sdk-Date"),
			AK:            ak,
			SK:            strings.TrimSpace(sk),
			Authorization: req.Header.Get("Authorization"),
		}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// quirks prints n requests of the shapes where the SDK's canonicalization differs from the signing
// guide (otc-sdk-facts.md #4): repeated and mixed-case query keys, padded and repeated headers, POST
// without body but with a query, an encoded "/" in a path segment. cts-emulator's verifier must
// accept every one of them (cts-emulator/src/aksk/tests.rs).
func quirks(r *rand.Rand, n int, enc *json.Encoder) {
	for i := 0; i < n; i++ {
		path := "/v3/" + url.PathEscape(text(r, 8)) + "/traces"
		if i%5 == 4 {
			path = "/v1/" + url.PathEscape("a/"+text(r, 4)) + "/x"
		}
		var parts []string
		// No two keys equal but for case: the SDK orders those by Go map iteration, at random.
		keys := []string{"multi", "Zeta", "alpha", "Beta", "limit"}
		for k := 0; k < r.Intn(6); k++ {
			parts = append(parts, url.QueryEscape(keys[r.Intn(len(keys))])+"="+url.QueryEscape(text(r, 8)))
		}
		raw := "https://h.example.com" + path
		if len(parts) > 0 {
			raw += "?" + strings.Join(parts, "&")
		}
		method := "GET"
		if i%3 == 1 {
			method = "POST"
		}
		req, err := http.NewRequest(method, raw, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "request", i, err)
			os.Exit(1)
		}
		headers := [][]string{}
		if r.Intn(2) == 0 {
			v := strings.Repeat(" ", r.Intn(3)) + "a" + strings.Repeat(" ", 1+r.Intn(3)) + "b" + strings.Repeat(" ", r.Intn(3))
			req.Header.Set("X-Custom", v)
			headers = append(headers, []string{"X-Custom", v})
		}
		if r.Intn(2) == 0 {
			for _, v := range []string{"one", "two"} {
				req.Header.Add("X-Repeated", v)
				headers = append(headers, []string{"X-Repeated", v})
			}
		}
		ak := "AK" + strconv.Itoa(r.Intn(1_000_000))
		sk := "SK" + text(r, 30) + "end"
		golangsdk.Sign(req, golangsdk.SignOptions{AccessKey: ak, SecretKey: sk})
		if err := enc.Encode(signed{
			Method:        method,
			URL:           req.URL.String(),
			Headers:       headers,
			Date:          req.Header.Get("X-Sdk-Date"),
			AK:            ak,
			SK:            strings.TrimSpace(sk),
			Authorization: req.Header.Get("Authorization"),
		}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
