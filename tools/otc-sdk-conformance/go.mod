module github.com/cloudtrace-exporter/tools/otc-sdk-conformance

go 1.23.0

require github.com/opentelekomcloud/gophertelekomcloud v0.9.1

require gopkg.in/yaml.v2 v2.3.0 // indirect
