package server

import (
	"net/http"
)

// playgroundHandler serves GraphiQL at /, built into the binary (web/dist):
// it loads nothing from elsewhere. The API key is typed once into the field
// above the editor and kept in the tab's sessionStorage; the page sends it
// as the Authorization header and in the websocket's connection_init
// payload ({"Authorization": "Bearer ik_..."}).
func playgroundHandler() http.Handler {
	return pageHandler("playground.html")
}
