package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestSendChecksAnswers: an answer counts only when it is HTTP 200 with
// data and no errors, and, for a strict target, with every root field of
// the data set; the root fields come back as they were sent.
func TestSendChecksAnswers(t *testing.T) {
	t.Parallel()
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "no key", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	hc := srv.Client()
	for _, tc := range []struct {
		body          string
		strict, loose string // the error's text for a strict and a loose target; "" none
	}{
		{`{"data":{"a":{"id":"x"},"b":[1,2]}}`, "", ""},
		{`{"data":{"a":null}}`, "a is null", ""},
		{`{"data":{"a":{"id":"x"},"b":null}}`, "b is null", ""},
		{`{"data":{}}`, "no field in the data", ""},
		{`{"data":null}`, "no data", "no data"},
		{`{}`, "no data", "no data"},
		{`{"data":null,"errors":[{"message":"boom"}]}`, "boom", "boom"},
		{`{"data":{"a":1},"errors":[{"message":"partly"}]}`, "partly", "partly"},
		{`not json`, "decoding the response", "decoding the response"},
	} {
		body = tc.body
		for _, strict := range []bool{true, false} {
			want := tc.loose
			if strict {
				want = tc.strict
			}
			_, err := sendData(context.Background(), hc, "k", request{url: srv.URL, body: []byte(`{}`), strict: strict})
			switch {
			case want == "" && err != nil:
				t.Errorf("%s (strict %v): %v", tc.body, strict, err)
			case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
				t.Errorf("%s (strict %v): error %v, want one saying %q", tc.body, strict, err, want)
			}
		}
	}
	body = `{"data":{"a":{"id":"x"},"b":[1,2]}}`
	fields, err := sendData(context.Background(), hc, "k", request{url: srv.URL, body: []byte(`{}`), strict: true})
	if err != nil || len(fields) != 2 || string(fields["a"]) != `{"id":"x"}` || string(fields["b"]) != `[1,2]` {
		t.Errorf("the root fields came back as %s, %v", fields, err)
	}
	if _, err := sendData(context.Background(), hc, "", request{url: srv.URL, body: []byte(`{}`)}); err == nil ||
		!strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("without a key: %v, want HTTP 401", err)
	}
}
