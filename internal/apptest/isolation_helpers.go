package apptest

// TrySend writes a message and returns the write error instead of failing
// the test: a socket the server is closing (an unauthenticated one, say)
// may refuse a write, which is an answer in itself.
func (w *WS) TrySend(m Message) error { return w.conn.WriteJSON(m) }
