// Package sandbox holds loopback FAKES of the external systems Intake talks
// to (zvoove, Talention, Compleet, HubSpot). They speak the real API shapes
// documented in docs/providers.md over real HTTP so that connectors, the
// sync engine and the demo can be exercised without any real tenant. They
// are not the real systems and must never be presented as such.
//
// A fake implements what the vendor documents and nothing kinder: no
// de-duplication the vendor does not document, paging exactly as documented
// (selectable both ways where the documents are silent), the documented
// limits and error shapes. Each fake states those facts in its contract.go,
// and package contract checks every request and answer against them.
//
// This package holds what every fake shares: a deterministic data set
// (Dataset), fault injection (Faults, including an answer lost after its
// write took effect) and a log of the writes a fake received and applied
// (WriteLog). Each provider's fake lives in a sub-package.
package sandbox
