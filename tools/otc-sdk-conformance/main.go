// Command otc-sdk-conformance drives cts-emulator with the official OTC Go
// SDK (gophertelekomcloud): it logs in (password, or AK/SK with a domain
// name so the SDK looks the domain up and sends X-Domain-Id), finds CTS in
// the catalog, walks v2 trace lists with the SDK's own traces.List and v1/v3
// lists through its service client, reads trackers, and checks ids, counts
// and the status field against the emulator's ground truth
// (GET /_emulator/truth). It prints one "ok ..." line per check and exits 1
// with "FAIL ..." lines when anything disagrees.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	golangsdk "github.com/opentelekomcloud/gophertelekomcloud"
	"github.com/opentelekomcloud/gophertelekomcloud/openstack"
	trackerv1 "github.com/opentelekomcloud/gophertelekomcloud/openstack/cts/v1/tracker"
	"github.com/opentelekomcloud/gophertelekomcloud/openstack/cts/v2/traces"
	trackerv3 "github.com/opentelekomcloud/gophertelekomcloud/openstack/cts/v3/tracker"
)

type config struct {
	base, domain, project, user, password, ak, sk, mode string
	pageSizes                                           []int
}

var failures []string

func fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	failures = append(failures, msg)
	fmt.Println("FAIL " + msg)
}

func ok(format string, args ...any) { fmt.Println("ok " + fmt.Sprintf(format, args...)) }

// recorder remembers the method, path and chosen headers of every request
// the SDK sends, so the program can check which headers it used.
type recorder struct {
	mu   sync.Mutex
	seen []seenRequest
	next http.RoundTripper
}

type seenRequest struct {
	method, path, projectHeader, domainHeader, authorization, token string
	recorded                                                        recordedRequest
}

// recordedRequest is one request as -record writes it: everything but the
// credentials (Authorization, X-Auth-Token) and the signing time, plus the
// header names the SDK signed, so a test can replay it with a fresh signature.
type recordedRequest struct {
	Method        string      `json:"method"`
	Path          string      `json:"path"`
	RawQuery      string      `json:"raw_query"`
	Headers       [][2]string `json:"headers"`
	SignedHeaders string      `json:"signed_headers,omitempty"`
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	rr := recordedRequest{Method: req.Method, Path: req.URL.EscapedPath(), RawQuery: req.URL.RawQuery}
	names := make([]string, 0, len(req.Header))
	for k := range req.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch strings.ToLower(k) {
		case "authorization", "x-auth-token", "x-sdk-date":
			continue
		}
		for _, v := range req.Header.Values(k) {
			rr.Headers = append(rr.Headers, [2]string{k, v})
		}
	}
	if a := req.Header.Get("Authorization"); strings.Contains(a, "SignedHeaders=") {
		rr.SignedHeaders = strings.SplitN(strings.SplitN(a, "SignedHeaders=", 2)[1], ",", 2)[0]
	}
	r.mu.Lock()
	r.seen = append(r.seen, seenRequest{
		recorded:      rr,
		method:        req.Method,
		path:          req.URL.Path,
		projectHeader: req.Header.Get("X-Project-Id"),
		domainHeader:  req.Header.Get("X-Domain-Id"),
		authorization: req.Header.Get("Authorization"),
		token:         req.Header.Get("X-Auth-Token"),
	})
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

type truth struct {
	ProjectID    string   `json:"project_id"`
	VisibleCount int      `json:"visible_count"`
	PendingCount int      `json:"pending_count"`
	TraceIDs     []string `json:"trace_ids"`
}

func getTruth(cfg config) (truth, error) {
	var t truth
	resp, err := http.Get(cfg.base + "/_emulator/truth?project_id=" + url.QueryEscape(cfg.project))
	if err != nil {
		return t, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return t, fmt.Errorf("truth: HTTP %d", resp.StatusCode)
	}
	return t, json.NewDecoder(resp.Body).Decode(&t)
}

// login returns an authenticated provider client, with a recorder on its transport.
func login(cfg config, rec *recorder) (*golangsdk.ProviderClient, error) {
	switch cfg.mode {
	case "password":
		// auth_url without /v3: the SDK discovers the version at the root.
		client, err := openstack.NewClient(cfg.base)
		if err != nil {
			return nil, err
		}
		client.HTTPClient = http.Client{Transport: rec}
		err = openstack.Authenticate(client, golangsdk.AuthOptions{
			IdentityEndpoint: cfg.base,
			Username:         cfg.user,
			Password:         cfg.password,
			DomainName:       cfg.domain,
			TenantName:       cfg.project,
		})
		return client, err
	case "aksk":
		client, err := openstack.NewClient(cfg.base + "/v3")
		if err != nil {
			return nil, err
		}
		client.HTTPClient = http.Client{Transport: rec}
		err = openstack.Authenticate(client, golangsdk.AKSKAuthOptions{
			IdentityEndpoint: cfg.base + "/v3",
			ProjectName:      cfg.project,
			Domain:           cfg.domain,
			AccessKey:        cfg.ak,
			SecretKey:        cfg.sk,
		})
		return client, err
	}
	return nil, fmt.Errorf("unknown -mode %q: use password or aksk", cfg.mode)
}

// rawTrace is the part of a v1/v3 trace this program checks.
type rawTrace struct {
	TraceID     string `json:"trace_id"`
	TraceRating string `json:"trace_rating"`
	TraceStatus string `json:"trace_status"`
	Code        string `json:"code"`
	Time        int64  `json:"time"`
	RecordTime  int64  `json:"record_time"`
}

type rawPage struct {
	MetaData struct {
		Count  int     `json:"count"`
		Marker *string `json:"marker"`
	} `json:"meta_data"`
	Traces []rawTrace `json:"traces"`
}

func window() (string, string) {
	now := time.Now().UnixMilli()
	from := now - 7*86_400_000 + 60_000
	return strconv.FormatInt(from, 10), strconv.FormatInt(now+60_000, 10)
}

// walkRaw follows markers on a v1 or v3 list through the SDK's service client.
func walkRaw(sc *golangsdk.ServiceClient, path string, limit int, extra string) ([]rawTrace, int, error) {
	from, to := window()
	var all []rawTrace
	next := ""
	pages := 0
	for {
		q := url.Values{}
		q.Set("limit", strconv.Itoa(limit))
		q.Set("from", from)
		q.Set("to", to)
		if next != "" {
			q.Set("next", next)
		}
		u := sc.ServiceURL(path) + "?" + q.Encode() + extra
		var page rawPage
		if _, err := sc.Get(u, &page, nil); err != nil {
			return nil, pages, fmt.Errorf("GET %s: %w", u, err)
		}
		pages++
		if page.MetaData.Count != len(page.Traces) {
			return nil, pages, fmt.Errorf("meta_data.count %d but %d traces", page.MetaData.Count, len(page.Traces))
		}
		all = append(all, page.Traces...)
		if page.MetaData.Marker == nil || *page.MetaData.Marker == "" || len(page.Traces) == 0 {
			return all, pages, nil
		}
		next = *page.MetaData.Marker
		if pages > 100_000 {
			return nil, pages, fmt.Errorf("endless paging")
		}
	}
}

// walkV2 follows markers with the SDK's traces.List.
func walkV2(sc *golangsdk.ServiceClient, limit int, status string) ([]traces.Traces, int, error) {
	from, to := window()
	var all []traces.Traces
	next := ""
	pages := 0
	for {
		res, err := traces.List(sc, "system", traces.ListTracesOpts{
			Limit: strconv.Itoa(limit), From: from, To: to, Next: next, TraceStatus: status,
		})
		if err != nil {
			return nil, pages, err
		}
		pages++
		all = append(all, res.Traces...)
		if res.MetaData.Marker == "" || len(res.Traces) == 0 {
			return all, pages, nil
		}
		next = res.MetaData.Marker
		if pages > 100_000 {
			return nil, pages, fmt.Errorf("endless paging")
		}
	}
}

func sameIDs(what string, got []string, want []string) {
	g := append([]string(nil), got...)
	w := append([]string(nil), want...)
	sort.Strings(g)
	sort.Strings(w)
	if len(g) != len(w) {
		fail("%s: %d ids, the emulator holds %d", what, len(g), len(w))
		return
	}
	for i := range g {
		if g[i] != w[i] {
			fail("%s: id %s is not the emulator's %s", what, g[i], w[i])
			return
		}
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			fail("%s: id %s listed twice", what, id)
			return
		}
		seen[id] = true
	}
	ok("%s: %d ids, each once, equal to the emulator's ground truth", what, len(got))
}

func newestFirst(what string, times []int64) {
	for i := 1; i < len(times); i++ {
		if times[i] > times[i-1] {
			fail("%s: record_time %d after %d: not newest first", what, times[i], times[i-1])
			return
		}
	}
}

func main() {
	var cfg config
	var sizes string
	flag.StringVar(&cfg.base, "base", "", "emulator base URL, e.g. http://127.0.0.1:8080 (no trailing slash)")
	flag.StringVar(&cfg.domain, "domain", "", "domain (account) name")
	flag.StringVar(&cfg.project, "project", "", "project name, e.g. eu-de_demo")
	flag.StringVar(&cfg.user, "user", "", "IAM user name (password mode)")
	flag.StringVar(&cfg.mode, "mode", "password", "password or aksk")
	flag.StringVar(&sizes, "page-sizes", "200,37", "page sizes to walk with, comma-separated")
	record := flag.String("record", "", "write every request the SDK sent (without credentials) as JSON to this file")
	flag.Parse()
	// Secrets come from the environment, never from argv.
	cfg.password = os.Getenv("OTC_SDK_CONFORMANCE_PASSWORD")
	cfg.ak = os.Getenv("OTC_SDK_CONFORMANCE_AK")
	cfg.sk = os.Getenv("OTC_SDK_CONFORMANCE_SK")
	cfg.base = strings.TrimSuffix(cfg.base, "/")
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 200 {
			fmt.Fprintf(os.Stderr, "-page-sizes: %q is not a page size from 1 to 200\n", s)
			os.Exit(2)
		}
		cfg.pageSizes = append(cfg.pageSizes, n)
	}
	if cfg.base == "" || cfg.domain == "" || cfg.project == "" {
		fmt.Fprintln(os.Stderr, "usage: otc-sdk-conformance -base URL -domain NAME -project NAME [-mode password -user NAME | -mode aksk]; secrets in OTC_SDK_CONFORMANCE_PASSWORD / _AK / _SK")
		os.Exit(2)
	}
	rec := &recorder{next: http.DefaultTransport}
	run(cfg, rec)
	if *record != "" {
		var all []recordedRequest
		for _, r := range rec.seen {
			all = append(all, r.recorded)
		}
		data, err := json.MarshalIndent(map[string]any{
			"about":    "Requests the official OTC Go SDK (gophertelekomcloud v0.9.1) sent to cts-emulator in -mode " + cfg.mode + ", recorded by tools/otc-sdk-conformance -record; credentials and X-Sdk-Date left out.",
			"requests": all,
		}, "", " ")
		if err == nil {
			err = os.WriteFile(*record, append(data, '\n'), 0o644)
		}
		if err != nil {
			fail("-record %s: %v", *record, err)
		}
	}
	if len(failures) > 0 {
		fmt.Printf("%d check(s) failed (mode %s)\n", len(failures), cfg.mode)
		os.Exit(1)
	}
	fmt.Printf("all checks passed (mode %s)\n", cfg.mode)
}

func run(cfg config, rec *recorder) {
	provider, err := login(cfg, rec)
	if err != nil {
		fail("%s login: %v", cfg.mode, err)
		return
	}
	ok("%s login", cfg.mode)
	tr, err := getTruth(cfg)
	if err != nil {
		fail("ground truth: %v", err)
		return
	}
	if tr.PendingCount != 0 {
		fail("ground truth: %d traces still pending; start the emulator without ingestion delay", tr.PendingCount)
	}
	region := strings.Split(cfg.project, "_")[0]
	eo := golangsdk.EndpointOpts{Region: region}
	v1, err1 := openstack.NewCTSV1(provider, eo)
	v2, err2 := openstack.NewCTSV2(provider, eo)
	v3, err3 := openstack.NewCTSV3(provider, eo)
	if err1 != nil || err2 != nil || err3 != nil {
		fail("CTS in the catalog: %v %v %v", err1, err2, err3)
		return
	}
	wantV1 := cfg.base + "/v1.0/" + tr.ProjectID + "/"
	if v1.Endpoint != wantV1 || v2.Endpoint != cfg.base+"/v2.0/"+tr.ProjectID+"/" || v3.Endpoint != cfg.base+"/v3/"+tr.ProjectID+"/" {
		fail("catalog endpoints: v1 %s v2 %s v3 %s, want %s and its v2.0/v3 forms", v1.Endpoint, v2.Endpoint, v3.Endpoint, wantV1)
	} else {
		ok("catalog: CTS v1 %s, v2 and v3 derived by the SDK", v1.Endpoint)
	}

	for _, limit := range cfg.pageSizes {
		// v2 with the SDK's own model: ids, order and the status field.
		v2all, pages, err := walkV2(v2, limit, "")
		if err != nil {
			fail("v2 traces.List (limit %d): %v", limit, err)
			continue
		}
		ids := make([]string, 0, len(v2all))
		times := make([]int64, 0, len(v2all))
		status := map[string]string{}
		empty := 0
		for _, t := range v2all {
			ids = append(ids, t.TraceId)
			times = append(times, t.RecordTime)
			status[t.TraceId] = t.TraceStatus
			switch t.TraceStatus {
			case "normal", "warning", "incident":
			default:
				empty++
			}
		}
		sameIDs(fmt.Sprintf("v2 traces.List limit %d (%d pages)", limit, pages), ids, tr.TraceIDs)
		newestFirst("v2", times)
		if empty > 0 {
			fail("v2 limit %d: %d traces without a normal/warning/incident trace_status in the SDK's model", limit, empty)
		} else {
			ok("v2 limit %d: every trace has its trace_status in the SDK's model", limit)
		}

		for _, api := range []struct {
			name string
			sc   *golangsdk.ServiceClient
			path string
		}{{"v1.0", v1, "system/trace"}, {"v3", v3, "traces"}} {
			extra := ""
			if api.name == "v3" {
				extra = "&trace_type=system"
			}
			all, pages, err := walkRaw(api.sc, api.path, limit, extra)
			if err != nil {
				fail("%s list (limit %d): %v", api.name, limit, err)
				continue
			}
			ids := make([]string, 0, len(all))
			times := make([]int64, 0, len(all))
			mismatch := 0
			for _, t := range all {
				ids = append(ids, t.TraceID)
				times = append(times, t.RecordTime)
				if t.TraceRating == "" || t.TraceRating != status[t.TraceID] {
					mismatch++
				}
			}
			sameIDs(fmt.Sprintf("%s list limit %d (%d pages)", api.name, limit, pages), ids, tr.TraceIDs)
			newestFirst(api.name, times)
			if mismatch > 0 {
				fail("%s limit %d: %d traces whose trace_rating differs from v2's trace_status", api.name, limit, mismatch)
			} else {
				ok("%s limit %d: trace_rating equals v2 trace_status for every trace", api.name, limit)
			}
		}

		// The SDK's status filter: exactly the traces v2 reported with that status.
		for _, st := range []string{"warning", "incident"} {
			got, _, err := walkV2(v2, limit, st)
			if err != nil {
				fail("v2 trace_status=%s: %v", st, err)
				continue
			}
			var want, gotIDs []string
			for id, s := range status {
				if s == st {
					want = append(want, id)
				}
			}
			for _, t := range got {
				gotIDs = append(gotIDs, t.TraceId)
			}
			sameIDs(fmt.Sprintf("v2 trace_status=%s limit %d", st, limit), gotIDs, want)
		}
	}

	// Trackers.
	t1, err := trackerv1.Get(v1, "system")
	if err != nil {
		fail("v1 tracker.Get: %v", err)
	} else if t1.TrackerName != "system" || t1.Status != "enabled" {
		fail("v1 tracker.Get: name %q status %q, want system/enabled", t1.TrackerName, t1.Status)
	} else {
		ok("v1 tracker.Get: system, enabled")
	}
	t3, err := trackerv3.List(v3, "system")
	if err != nil {
		fail("v3 tracker.List: %v", err)
	} else if len(t3) != 1 || t3[0].TrackerName != "system" || t3[0].ProjectId != tr.ProjectID {
		fail("v3 tracker.List: %+v, want one system tracker of project %s", t3, tr.ProjectID)
	} else {
		ok("v3 tracker.List: one system tracker of project %s", tr.ProjectID)
	}

	checkHeaders(cfg, rec, tr.ProjectID)
}

// checkHeaders asserts the credentials the SDK put on its requests: a token
// everywhere after password login; after AK/SK login a signature, one
// domain lookup, and X-Domain-Id instead of X-Project-Id on CTS calls.
func checkHeaders(cfg config, rec *recorder, projectID string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	cts, lookups := 0, 0
	for _, r := range rec.seen {
		if strings.HasPrefix(r.path, "/v3/auth/domains") {
			lookups++
		}
		isCTS := strings.HasPrefix(r.path, "/v1.0/") || strings.HasPrefix(r.path, "/v2.0/") ||
			strings.HasPrefix(r.path, "/v3/"+projectID+"/")
		if !isCTS {
			continue
		}
		cts++
		switch cfg.mode {
		case "password":
			if r.token == "" {
				fail("%s %s sent without X-Auth-Token", r.method, r.path)
				return
			}
		case "aksk":
			if !strings.HasPrefix(r.authorization, "SDK-HMAC-SHA256 Credential=") {
				fail("%s %s: Authorization %q is not the SDK's signature form", r.method, r.path, r.authorization)
				return
			}
			if r.domainHeader == "" || r.projectHeader != "" {
				fail("%s %s: X-Domain-Id %q, X-Project-Id %q; the SDK should send only X-Domain-Id after the domain lookup", r.method, r.path, r.domainHeader, r.projectHeader)
				return
			}
		}
	}
	if cfg.mode == "aksk" && lookups == 0 {
		fail("the SDK never called GET /v3/auth/domains")
		return
	}
	if cts == 0 {
		fail("no CTS request was recorded")
		return
	}
	if cfg.mode == "aksk" {
		ok("%d CTS requests signed in the SDK's form with X-Domain-Id after %d domain lookup(s)", cts, lookups)
	} else {
		ok("%d CTS requests with the password token", cts)
	}
}
