package scalar

import "io"

// controlEscapes are the \u00XX escapes of bytes 0x00-0x1F, in gqlgen's
// upper case, two hexadecimal digits to a byte.
const controlEscapes = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"

// WriteString writes s as graphql.MarshalString(s) does, without the
// closure that holds s: a JSON string with ", \ and the control
// characters escaped (tab, CR and LF by name), everything else, invalid
// UTF-8 included, as it is. gqlgen ranges over runes; every byte it
// escapes is a rune of its own, and every byte of a multi-byte or invalid
// sequence is 0x80 or above, so ranging over bytes is the same.
func WriteString(w io.Writer, s string) {
	_, _ = io.WriteString(w, `"`)
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		_, _ = io.WriteString(w, s[start:i])
		switch c {
		case '\t':
			_, _ = io.WriteString(w, `\t`)
		case '\r':
			_, _ = io.WriteString(w, `\r`)
		case '\n':
			_, _ = io.WriteString(w, `\n`)
		case '\\':
			_, _ = io.WriteString(w, `\\`)
		case '"':
			_, _ = io.WriteString(w, `\"`)
		default:
			_, _ = io.WriteString(w, `\u00`)
			_, _ = io.WriteString(w, controlEscapes[2*c:2*c+2])
		}
		start = i + 1
	}
	_, _ = io.WriteString(w, s[start:])
	_, _ = io.WriteString(w, `"`)
}
