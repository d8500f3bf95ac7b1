// Command pstest serves the in-memory Pub/Sub fake from the Go client library
// (cloud.google.com/go/pubsub/pstest, Debian's golang-google-cloud-dev) as a real
// gRPC endpoint, so the reference apps' Pub/Sub queue adapter is tested over the wire
// with PUBSUB_EMULATOR_HOST. It listens on a free localhost port and prints
// "listening on HOST:PORT" once ready; SIGINT or SIGTERM stops it.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"cloud.google.com/go/pubsub/pstest"
)

func main() {
	srv := pstest.NewServer()
	fmt.Printf("listening on %s\n", srv.Addr)
	os.Stdout.Sync()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	srv.Close()
}
