// Package fuzz holds a fuzz target for every parser in vipkit. Each target
// checks that decoding never panics and that whatever decodes re-encodes and
// decodes to the same value. Seed corpora live in testdata/fuzz and come from
// real captures and from every input a fuzzer ever found.
//
// Run one target for a while with, for example:
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzAdvertisement$' -fuzztime 5m
package fuzz
