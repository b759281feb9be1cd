// Package backend defines what an isolation backend is: a [Backend]
// creates a [Sandbox], a sandbox starts a [Process], and every sandbox
// reports in [Enforced] what it really applied.
//
// The ten kinds of kavach 1.0 keep their names and order ([All]). A kind
// whose backend is not implemented, or whose binary or hardware is
// missing, is unavailable with an exact reason ([UnavailableError]); it is
// never faked. [ResolveBest] picks among available backends by the score
// each would enforce on this host.
//
// The root package kavach wires backends to policy, scanning, guards and
// audit; backends themselves only isolate and run.
package backend
