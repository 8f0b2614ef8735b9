// The playground: GraphiQL with the API key taken from one field (kept in
// sessionStorage, so it leaves with the tab) and sent as the Authorization
// header over HTTP and in connection_init over the websocket.
import React from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { createClient } from 'graphql-ws';
import { setNonce } from 'get-nonce';
import 'graphiql/graphiql.css';
import './playground.css';

const storageKey = 'intake.apiKey';

// GraphiQL's dialogs add a <style> element while they are open (to keep the
// page from scrolling behind them). The policy allows only styles that
// carry the nonce the server put into this page, so they carry it.
const nonce = document.querySelector('meta[name="csp-nonce"]');
if (nonce) setNonce(nonce.content);

const defaultQuery = `# Put your API key in the field above, then run the query (Ctrl-Enter).
query {
  viewer { organization { name } role }
  providers { key name supportsPushback supportsStatusMapping }
  integrations(first: 10) { edges { node { id name status provider { key } } } }
  campaigns(first: 10) { edges { node { id name triggers { id enabled searchType } } } }
}
`;

function wsURL() {
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/graphql';
}

let wsClient = null;

function fetcherFor(key) {
  if (wsClient) wsClient.dispose();
  const auth = key ? 'Bearer ' + key : '';
  wsClient = createClient({
    url: wsURL(),
    lazy: true,
    connectionParams: () => (auth ? { Authorization: auth } : {}),
  });
  return createGraphiQLFetcher({
    url: '/graphql',
    headers: auth ? { Authorization: auth } : {},
    wsClient,
  });
}

const root = createRoot(document.getElementById('graphiql'));

function render(key) {
  if (!key) {
    // Without a key every request is refused: ask for one first.
    root.render(
      <p className="intake-hint">
        Put an API key into the field above to use the playground. It is kept in this tab only.
      </p>,
    );
    return;
  }
  root.render(
    <GraphiQL
      key={key}
      fetcher={fetcherFor(key)}
      defaultQuery={defaultQuery}
      shouldPersistHeaders={false}
    />,
  );
}

const input = document.getElementById('api-key');
const status = document.getElementById('key-status');

function useKey(key) {
  key = key.trim();
  if (key) sessionStorage.setItem(storageKey, key);
  else sessionStorage.removeItem(storageKey);
  status.textContent = key ? 'Key set for this tab.' : 'No key: requests will be refused.';
  render(key);
}

document.getElementById('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  useKey(input.value);
});

input.value = sessionStorage.getItem(storageKey) || '';
useKey(input.value);
