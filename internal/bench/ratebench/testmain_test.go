package main

import (
	"os"
	"testing"

	"github.com/intake/intake/internal/dbtest"
)

// TestMain drops, once the tests end, the template databases that
// dbtest copies each test's database from.
func TestMain(m *testing.M) { os.Exit(dbtest.Run(m)) }
