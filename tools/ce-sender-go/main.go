// Command ce-sender-go sends CloudEvents to a sink with the Go SDK
// (github.com/cloudevents/sdk-go/v2 v2.16.2), an implementation nobody on
// this project wrote, the way a producer other than cts-exporter would:
// neo4j-sink's interop test points it at the real sink binary.
//
// sdk-go v2.16.2 writes header values as they are (raw UTF-8, no
// percent-encoding), so binary mode carries non-ASCII bytes in ce-* headers.
//
// Usage: ce-sender-go -target http://127.0.0.1:PORT/ -run RUN -project HEX
//
// It sends three traces, each once in binary and once in structured mode
// (trace ids RUN-go-<shape>-<mode>), and prints one line per event:
// "<trace id> <HTTP status>". Exit 1 when an event could not be sent at all.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// The names of issue 12: an umlaut, CJK, the right-to-left override U+202E.
const (
	bucket = "b\u00fccket-\u540d\u524d-\u202e"
	user   = "j\u00fcrgen"
	emoji  = "\U0001F600"
)

func trace(id, project string, withContext bool) map[string]any {
	t := map[string]any{
		"trace_id":      id,
		"trace_name":    "createBucket",
		"trace_type":    "ApiCall",
		"code":          "201",
		"api_version":   "v1",
		"time":          int64(1796613664495),
		"record_time":   int64(1796613664495),
		"user":          map[string]any{"id": "ed4d007f1ab481a33ca09bc5eb501def", "name": user + emoji, "domain": map[string]any{"id": "cc2d87d27147ba8934614f2ccc84a766", "name": "OTC00000000001000000001"}},
		"service_type":  "OBS",
		"resource_type": "bucket",
		"resource_name": bucket,
		"resource_id":   bucket,
		"source_ip":     "91.64.213.219",
		"request_id":    "28c1bb4bb7fdfcb177bbd524c9dab45e",
	}
	if withContext {
		// Only in the trace: the project in resource_url, the region in endpoint.
		t["endpoint"] = "https://obs.eu-nl.otc.t-systems.com"
		t["resource_url"] = "/v1/" + project + "/buckets/x"
	}
	return t
}

func main() {
	target := flag.String("target", "", "sink URL")
	run := flag.String("run", "", "run id (trace id prefix)")
	project := flag.String("project", "", "32-hex project id")
	flag.Parse()
	if *target == "" || *run == "" || len(*project) != 32 {
		fmt.Fprintln(os.Stderr, "usage: ce-sender-go -target URL -run RUN -project <32 hex>")
		os.Exit(2)
	}
	c, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(*target))
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
	failed := false
	for _, mode := range []string{"binary", "structured"} {
		for _, shape := range []string{"original", "tenant-only", "bare"} {
			id := fmt.Sprintf("%s-go-%s-%s", *run, shape, mode)
			e := cloudevents.NewEvent()
			e.SetID(id)
			e.SetType("obs.apicall.bucket.createbucket")
			e.SetSubject(bucket)
			e.SetTime(time.UnixMilli(1796613664495).UTC())
			switch shape {
			case "original":
				// As the original Go exporter sends it.
				e.SetSource("http://127.0.0.1:18732/v2.0/" + *project + "/")
				e.SetExtension("tenant", *project)
				e.SetExtension("region", "eu-de")
				e.SetExtension("domain", "cc2d87d27147ba8934614f2ccc84a766")
				e.SetExtension("status", "")
				e.SetExtension("code", "201")
				e.SetExtension("resourceid", bucket)
				e.SetExtension("user", user)
			case "tenant-only":
				e.SetSource("urn:example:" + bucket)
				e.SetExtension("tenant", *project)
				e.SetExtension("region", "eu-de")
			case "bare":
				// No context at all: the sink derives it from the trace.
				e.SetSource("urn:example:producer")
			}
			if err := e.SetData(cloudevents.ApplicationJSON, trace(id, *project, shape == "bare")); err != nil {
				fmt.Fprintln(os.Stderr, id, "data:", err)
				os.Exit(1)
			}
			if err := e.Validate(); err != nil {
				fmt.Fprintln(os.Stderr, id, "invalid event:", err)
				os.Exit(1)
			}
			ctx := context.Background()
			if mode == "structured" {
				ctx = cloudevents.WithEncodingStructured(ctx)
			}
			res := c.Send(ctx, e)
			var hr *cehttp.Result
			if cloudevents.ResultAs(res, &hr) {
				fmt.Printf("%s %d\n", id, hr.StatusCode)
			} else {
				fmt.Fprintln(os.Stderr, id, "not sent:", res)
				failed = true
			}
		}
	}
	if failed {
		os.Exit(1)
	}
}
