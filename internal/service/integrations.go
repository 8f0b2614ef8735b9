package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/intake/intake/ent"
	"github.com/intake/intake/ent/integration"
	"github.com/intake/intake/internal/egress"
	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/schema/schematype"
	"github.com/intake/intake/sync/connector"
	"github.com/intake/intake/sync/ratebudget"
)

// ConnectIntegrationInput is connectIntegration's input.
type ConnectIntegrationInput struct {
	Provider    schematype.ProviderKey
	Name        string
	Credentials map[string]any
	// RateLimit is the integration's own limit (nil: the provider's).
	RateLimit *schematype.RateLimit
}

// checkTimeout bounds a connection check so a slow system cannot hold a
// request for long.
const checkTimeout = 20 * time.Second

// ConnectIntegration validates the credentials, checks them against the
// external system, and stores them sealed. A failed check still stores the
// integration, with status ERROR and the reason in lastError, unless the
// egress policy refused where the credentials lead: that is a validation
// error of the URL, and nothing is stored.
func (s *Service) ConnectIntegration(ctx context.Context, in ConnectIntegrationInput) (*ent.Integration, error) {
	v := viewer.FromContext(ctx)
	if v == nil {
		return nil, &Error{Code: CodeUnauthenticated, Message: "an API key is required"}
	}
	p, ok := s.providers.Get(in.Provider)
	if !ok {
		return nil, invalid("input.provider", "provider %s is not supported", in.Provider)
	}
	name, err := checkText("input.name", in.Name, true, 200)
	if err != nil {
		return nil, err
	}
	creds := connector.Credentials{}
	for k, val := range in.Credentials {
		s, ok := val.(string)
		if !ok {
			return nil, invalid("input.credentials."+k, "must be a string")
		}
		creds[k] = s
	}
	rl, err := checkRateLimit("input.rateLimit", in.RateLimit)
	if err != nil {
		return nil, err
	}
	conn, err := p.Open(creds, s.opener.limited(s.connOpts, p.Descriptor(), creds, rl))
	if err != nil {
		return nil, Classify(err)
	}
	if err := s.checkDestinations(ctx, creds); err != nil {
		return nil, err
	}
	checkErr := s.check(ctx, conn, in.Provider)
	if re, ok := egress.IsRefused(checkErr); ok {
		// The URLs themselves passed checkDestinations: a redirect, or a
		// name that resolved differently when dialed, led here.
		return nil, invalid(refusedField(creds, re), "%s", re.Error())
	}
	status, lastErr := checkStatus(checkErr)
	id := pulid.New("int")
	sealed, err := s.sealCredentials(v.OrgID, id, creds)
	if err != nil {
		return nil, fmt.Errorf("sealing credentials: %w", err)
	}
	create := s.db.Integration.Create()
	if rl != nil {
		create.SetRateLimit(rl)
	}
	return create.
		SetID(id).
		SetProvider(in.Provider).
		SetName(name).
		SetCredentials(sealed).
		SetStatus(status).
		SetNillableLastError(lastErr).
		SetLastCheckedAt(time.Now().UTC().Truncate(time.Microsecond)).
		SetRateAccount(ratebudget.AccountKey(p.Descriptor(), creds)).
		Save(ctx)
}

// urlCredentials are the credential keys that name where requests go.
var urlCredentials = []string{"baseURL", "tokenURL"}

// checkDestinations refuses URL credentials whose host the egress policy
// refuses, before any connection: a literal address as it is, a host name
// as it resolves now. Failures to resolve are left to the check, which
// reports them like any other unreachable system.
func (s *Service) checkDestinations(ctx context.Context, creds connector.Credentials) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	for _, k := range urlCredentials {
		raw := creds[k]
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil {
			return invalid("input.credentials."+k, "must be an absolute http(s) URL")
		}
		port := uint16(80)
		if u.Scheme == "https" {
			port = 443
		}
		if p := u.Port(); p != "" {
			n, err := strconv.ParseUint(p, 10, 16)
			if err != nil {
				return invalid("input.credentials."+k, "has an invalid port")
			}
			port = uint16(n)
		}
		if err := s.connOpts.Egress.CheckHost(ctx, u.Hostname(), port); err != nil {
			if re, ok := egress.IsRefused(err); ok {
				return invalid("input.credentials."+k, "%s", re.Error())
			}
		}
	}
	return nil
}

// refusedField names the URL credential that led to a refused host: the
// tokenURL when the host is its host, else the baseURL, where every other
// request (and redirect) starts.
func refusedField(creds connector.Credentials, re *egress.RefusedError) string {
	if raw := creds["tokenURL"]; raw != "" {
		if u, err := url.Parse(raw); err == nil && strings.EqualFold(u.Hostname(), strings.Trim(re.Host, "[]")) {
			return "input.credentials.tokenURL"
		}
	}
	return "input.credentials.baseURL"
}

// check asks the external system whether the credentials work.
func (s *Service) check(ctx context.Context, conn connector.Connector, p schematype.ProviderKey) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	err := conn.Check(ctx)
	if err != nil {
		s.log.InfoContext(ctx, "integration check failed", slog.String("provider", string(p)), slog.String("err", err.Error()))
	}
	return err
}

// checkStatus is the status and lastError a check's result gives.
func checkStatus(err error) (integration.Status, *string) {
	if err != nil {
		msg := err.Error()
		return integration.StatusERROR, &msg
	}
	return integration.StatusCONNECTED, nil
}

// CheckIntegration checks a connected integration's credentials again.
func (s *Service) CheckIntegration(ctx context.Context, id pulid.ID) (*ent.Integration, error) {
	in, err := s.integration(ctx, "id", id)
	if err != nil {
		return nil, err
	}
	if in.Status == integration.StatusDISCONNECTED {
		return nil, invalid("id", "the integration is disconnected: connect it again")
	}
	conn, err := s.OpenConnector(in)
	if err != nil {
		return nil, err
	}
	status, lastErr := checkStatus(s.check(ctx, conn, in.Provider))
	upd := in.Update().SetStatus(status).SetLastCheckedAt(time.Now().UTC().Truncate(time.Microsecond))
	if lastErr != nil {
		upd.SetLastError(*lastErr)
	} else {
		upd.ClearLastError()
	}
	return upd.Save(ctx)
}

// DisconnectIntegration marks an integration disconnected and erases its
// credentials; its triggers stay configured but stop syncing and pushing.
func (s *Service) DisconnectIntegration(ctx context.Context, id pulid.ID) (*ent.Integration, error) {
	in, err := s.integration(ctx, "id", id)
	if err != nil {
		return nil, err
	}
	return in.Update().
		SetStatus(integration.StatusDISCONNECTED).
		SetCredentials([]byte{}).
		ClearLastError().
		Save(ctx)
}

// ReferenceOptions browses the references of an integration's external
// system live.
func (s *Service) ReferenceOptions(ctx context.Context, id pulid.ID, search string, first int, after string) (connector.ReferencePage, error) {
	in, err := s.integration(ctx, "integrationID", id)
	if err != nil {
		return connector.ReferencePage{}, err
	}
	if first < 1 || first > 100 {
		return connector.ReferencePage{}, invalid("first", "must be between 1 and 100")
	}
	if in.Status == integration.StatusDISCONNECTED {
		return connector.ReferencePage{}, invalid("integrationID", "the integration is disconnected: connect it again")
	}
	conn, err := s.OpenConnector(in)
	if err != nil {
		return connector.ReferencePage{}, err
	}
	page, err := conn.References(ctx, connector.ReferenceQuery{Search: search, Cursor: after, Limit: first})
	if errors.Is(err, connector.ErrBadCursor) {
		return connector.ReferencePage{}, invalid("after", "not a cursor of this list: start again without after")
	}
	if err != nil {
		return connector.ReferencePage{}, Classify(err)
	}
	return page, nil
}

func (s *Service) integration(ctx context.Context, field string, id pulid.ID) (*ent.Integration, error) {
	if err := checkID(field, id, "int", "integration"); err != nil {
		return nil, err
	}
	in, err := s.db.Integration.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, notFound(field, "integration")
	}
	return in, err
}

// IntegrationNames returns the names of the viewer's integrations.
func (s *Service) IntegrationNames(ctx context.Context) (map[string]bool, error) {
	names, err := s.db.Integration.Query().Select(integration.FieldName).Strings(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(names))
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}
