// Package ent is generated from ../schema by entc.go; only entc.go,
// generate.go and template/ are written by hand.
package ent

//go:generate go run -mod=mod entc.go
