module otc-auth/go-sdk-signer

go 1.21

require github.com/opentelekomcloud/gophertelekomcloud v0.9.1
