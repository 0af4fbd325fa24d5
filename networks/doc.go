// Package networks owns the network hierarchy (a CPO and its sub-clients, each an OCPI party)
// and the API keys that belong to networks. A key sees its own network and every network below
// it; Authenticate turns a key into that list (an auth.Principal), which every other feature
// uses to scope its queries.
package networks
