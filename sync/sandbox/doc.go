// Package sandbox holds loopback FAKES of the external systems Intake talks
// to (zvoove, Talention, Compleet, HubSpot). They speak the real API shapes
// documented in shared/PROVIDERS.md over real HTTP so that connectors, the
// sync engine and the demo can be exercised without any real tenant. They
// are not the real systems and must never be presented as such.
//
// This package holds what every fake shares: a deterministic data set
// (Dataset), fault injection (Faults) and a log of the writes a fake received
// (WriteLog). Each provider's fake lives in a sub-package.
package sandbox
