package server

import "net/http"

// consoleHandler serves the console at /console: a small page (web/src,
// plain JavaScript) that manages integrations, campaigns and their triggers
// through the public GraphQL API only, with the API key typed into it.
// Unlike the playground it needs no introspection, so it is served
// whatever INTAKE_INTROSPECTION says.
func consoleHandler() http.Handler {
	return pageHandler("console.html")
}
