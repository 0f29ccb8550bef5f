// The go-libp2p peer of test/quic-ipv6-go.test.ts (built by test/helpers/go-program.ts from interop/go's
// go.mod and go.sum): `listen` prints its /ip6/::1 QUIC address and serves until stdin closes;
// `dial <multiaddr>` connects, pings and prints `ok <rtt> <remote address>`.
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
)

func main() {
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip6/::1/udp/0/quic-v1"))
	if err != nil {
		panic(err)
	}
	if os.Args[1] == "listen" {
		for _, a := range h.Addrs() {
			fmt.Printf("%s/p2p/%s\n", a, h.ID())
		}
		bufio.NewReader(os.Stdin).ReadString('\n') // until the test closes stdin
		return
	}
	addr, err := ma.NewMultiaddr(os.Args[2])
	if err != nil {
		panic(err)
	}
	info, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Connect(ctx, *info); err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(1)
	}
	r := <-ping.Ping(ctx, h, info.ID)
	if r.Error != nil {
		fmt.Printf("error %v\n", r.Error)
		os.Exit(1)
	}
	fmt.Printf("ok %s %s\n", r.RTT, h.Network().ConnsToPeer(info.ID)[0].RemoteMultiaddr())
}
