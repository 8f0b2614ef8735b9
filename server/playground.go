package server

import (
	"net/http"

	"github.com/99designs/gqlgen/graphql/playground"
)

// playgroundHandler serves GraphiQL at /. Partners put their key in the
// Headers tab: {"Authorization": "Bearer ik_..."}; subscriptions send the
// same headers as the websocket's connection_init payload.
func playgroundHandler() http.Handler {
	return playground.Handler("Intake", "/graphql")
}
