package main

import "testing"

func TestPercentDecodeFollowsTheBinding(t *testing.T) {
	for in, want := range map[string]string{
		"Euro%20%E2%82%AC%20%F0%9F%98%80": "Euro € 😀", // the spec's example
		"j%c3%bcrgen":                     "jürgen",   // lower-case hex is accepted
		"%41":                             "A",        // unnecessary encoding is accepted
		`"quoted \"value\""`:              `quoted "value"`,
		"":                                "",
	} {
		got, err := percentDecode(in)
		if err != nil || got != want {
			t.Errorf("percentDecode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"%C0%A0", "%E2%82", "%", "%4", "%ZZ", "%ED%A0%80"} {
		if got, err := percentDecode(bad); err == nil {
			t.Errorf("percentDecode(%q) = %q, want an error", bad, got)
		}
	}
}

func TestEncodingProblemFindsUnencodedText(t *testing.T) {
	for _, ok := range []string{"", "plain-ASCII_1.0", "b%C3%BCcket", "100%25"} {
		if p := encodingProblem(ok); p != "" {
			t.Errorf("encodingProblem(%q) = %q", ok, p)
		}
	}
	for _, bad := range []string{"bücket", "a b", `"x"`, "100%", "%c3%bc", "tab\there"} {
		if encodingProblem(bad) == "" {
			t.Errorf("encodingProblem(%q) found nothing", bad)
		}
	}
}
