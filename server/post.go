package server

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// postTransport is GraphQL over HTTP POST as gqlgen's transport.POST
// serves it (the same content negotiation, status codes and answers),
// but for how the answer is written. transport.POST encodes it with
// json.Marshal, which checks and compacts the data gqlgen has already
// written as JSON, byte by byte: 5% of the server's CPU under the load
// tool's query mix. This writes the data as gqlgen wrote it (escaping
// what json.Marshal escapes, in one pass), in one write from a pooled
// buffer.
type postTransport struct{}

var _ graphql.Transport = postTransport{}

func (postTransport) Supports(r *http.Request) bool { return transport.POST{}.Supports(r) }

const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

func (postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	contentType := responseMediaType(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", contentType)
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("could not read request body: %+v", err)}))
		return
	}
	var params graphql.RawParams
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("json request body could not be decoded: %+v body:%s", err, body)}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	rc, opErr := exec.CreateOperationContext(ctx, &params)
	if opErr != nil {
		status := http.StatusOK
		if errcode.GetErrorKind(opErr) == errcode.KindProtocol {
			status = http.StatusUnprocessableEntity
			if contentType == mediaGraphQLResponse {
				status = http.StatusBadRequest
			}
		}
		w.WriteHeader(status)
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, responses(ctx))
}

// responseMediaType is the answer's Content-Type for an Accept header,
// as transport.POST chooses it: application/json unless the client
// prefers application/graphql-response+json or names neither.
func responseMediaType(accept string) string {
	if accept == "" {
		return mediaJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case "*/*", "application/*", mediaJSON:
			return mediaJSON
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		}
	}
	return mediaGraphQLResponse
}

var responseBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeResponse writes resp as json.Marshal would, with its data as gqlgen
// wrote it.
func writeResponse(w io.Writer, resp *graphql.Response) {
	if resp == nil || resp.Label != "" || resp.Path != nil || resp.HasNext != nil {
		// Nothing, or a part of an incremental answer: not over POST.
		b, _ := json.Marshal(resp)
		_, _ = w.Write(b)
		return
	}
	buf := responseBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 {
			buf.Reset()
			responseBuffers.Put(buf)
		}
	}()
	buf.WriteByte('{')
	if len(resp.Errors) > 0 {
		buf.WriteString(`"errors":`)
		b, err := json.Marshal(resp.Errors)
		if err != nil {
			b = []byte(`[{"message":"the errors could not be written"}]`)
		}
		buf.Write(b)
		buf.WriteByte(',')
	}
	buf.WriteString(`"data":`)
	if len(resp.Data) == 0 {
		buf.WriteString("null")
	} else {
		// As json.Marshal does: <, > and & (and U+2028, U+2029) in
		// strings are escaped, so that no answer can be read as HTML.
		htmlEscape(buf, resp.Data)
	}
	if len(resp.Extensions) > 0 {
		if b, err := json.Marshal(resp.Extensions); err == nil {
			buf.WriteString(`,"extensions":`)
			buf.Write(b)
		}
	}
	buf.WriteByte('}')
	_, _ = w.Write(buf.Bytes())
}

// htmlEscape writes data as json.HTMLEscape does: <, > and & as \u003c,
// \u003e and \u0026, and U+2028 and U+2029 as \u2028 and \u2029. It
// jumps from one byte it may escape to the next with bytes.IndexByte,
// which scans many bytes at a time, and copies what lies between:
// json.HTMLEscape steps through every byte, and on a page of 50 contacts
// that was 2% of the server's CPU. Most answers hold none of these
// bytes, or a few: an ampersand, or the lead byte 0xE2 that U+2028 shares
// with the dashes, quotes and € of everyday text.
func htmlEscape(buf *bytes.Buffer, data []byte) {
	const special = "<>&\xe2"
	var next [len(special)]int // the next offset of each, len(data) if none
	for k := range next {
		next[k] = indexFrom(data, 0, special[k])
	}
	start := 0 // what is not yet written
	for {
		k := 0
		for j := 1; j < len(next); j++ {
			if next[j] < next[k] {
				k = j
			}
		}
		i := next[k]
		if i == len(data) {
			break
		}
		next[k] = indexFrom(data, i+1, special[k])
		c := data[i]
		if c == 0xE2 {
			if i+2 >= len(data) || data[i+1] != 0x80 || data[i+2]&^1 != 0xA8 {
				continue // another character: written as it is
			}
			buf.Write(data[start:i])
			buf.WriteString(`\u202`)
			buf.WriteByte(hexDigits[data[i+2]&0xF])
			start = i + 3
			continue
		}
		buf.Write(data[start:i])
		buf.WriteString(`\u00`)
		buf.WriteByte(hexDigits[c>>4])
		buf.WriteByte(hexDigits[c&0xF])
		start = i + 1
	}
	buf.Write(data[start:])
}

const hexDigits = "0123456789abcdef"

// indexFrom is the offset of the first c in data at or after from, or
// len(data).
func indexFrom(data []byte, from int, c byte) int {
	if i := bytes.IndexByte(data[from:], c); i >= 0 {
		return from + i
	}
	return len(data)
}
