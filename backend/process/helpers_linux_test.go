package process_test

import (
	"context"
	"errors"
)

func errorsAs[T error](err error, target *T) bool { return errors.As(err, target) }

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func testingContext() context.Context { return context.Background() }
