// Command pubsub-emulator is a standalone Pub/Sub emulator for local runs and tests.
//
// It wraps pstest, the in-memory fake server Google ships with the Go Pub/Sub client,
// because the official (Java, gcloud) emulator cannot be installed on our machines.
// Clients reach it through PUBSUB_EMULATOR_HOST.
//
// Once the server accepts connections it prints exactly one line, "LISTENING host:port",
// to stdout, so callers wait for that line instead of sleeping. It runs until SIGTERM or
// SIGINT.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
)

// defaultAckDeadline mirrors real Pub/Sub, which treats an unset (0) ack deadline as 10 s.
// pstest rejects 0 instead, which breaks clients that omit it (e.g. Beam's DirectRunner
// creating its own subscription when ReadFromPubSub is given a topic).
const defaultAckDeadline = 10

type ackDeadlineDefaulter struct{}

// React fills in the default ack deadline, then lets pstest handle the request as usual.
func (ackDeadlineDefaulter) React(req interface{}) (bool, interface{}, error) {
	if sub, ok := req.(*pb.Subscription); ok && sub.AckDeadlineSeconds == 0 {
		sub.AckDeadlineSeconds = defaultAckDeadline
	}
	return false, nil, nil
}

func main() {
	host := flag.String("host", "127.0.0.1", "address to bind")
	port := flag.Int("port", 0, "port to bind (0 picks a free port)")
	flag.Parse()

	// pstest panics if it cannot listen; the message names the address, which is enough.
	srv := pstest.NewServerWithAddress(
		net.JoinHostPort(*host, strconv.Itoa(*port)),
		pstest.ServerReactorOption{FuncName: "CreateSubscription", Reactor: ackDeadlineDefaulter{}},
	)
	// The listener is bound by now; srv.Addr carries the real port when --port=0.
	fmt.Printf("LISTENING %s\n", srv.Addr)
	os.Stdout.Sync()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	if err := srv.Close(); err != nil {
		log.Printf("pubsub-emulator: close: %v", err)
	}
}
