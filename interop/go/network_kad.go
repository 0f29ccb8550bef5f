package main

// Kad network scenario (../NETWORK.md): /pk records (the default /ipfs validator accepts them),
// provider records for sha256 multihashes of "provide/<name>", FIND_NODE via GetClosestPeers.

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

func provideCid(name string) cid.Cid {
	h, _ := mh.Sum([]byte("provide/"+name), mh.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, h)
}

func (n *netCtx) runKad() error {
	d, err := dht.New(n.ctx, n.h, dht.Mode(dht.ModeServer))
	if err != nil {
		return err
	}
	nodes, err := n.join()
	if err != nil {
		return err
	}
	if err := until(30*time.Second, "routing table holds all", func() bool { return d.RoutingTable().Size() >= n.count-1 }); err != nil {
		return err
	}
	if err := n.barrier("ready"); err != nil {
		return err
	}
	pub, err := crypto.MarshalPublicKey(n.h.Peerstore().PubKey(n.h.ID()))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
	err = d.PutValue(ctx, "/pk/"+string(n.h.ID()), pub)
	cancel()
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if err := n.barrier("put"); err != nil {
		return err
	}
	ctx, cancel = context.WithTimeout(n.ctx, 30*time.Second)
	err = d.Provide(ctx, provideCid(n.name), true)
	cancel()
	if err != nil {
		return fmt.Errorf("provide: %w", err)
	}
	if err := n.barrier("provided"); err != nil {
		return err
	}
	checks := map[string]bool{}
	failures := []string{}
	check := func(what string, ok bool, detail string) {
		checks[what] = ok
		if !ok {
			failures = append(failures, what+": "+detail)
		}
	}
	for _, o := range nodes {
		if o.name == n.name {
			continue
		}
		want, err := crypto.MarshalPublicKey(mustPub(o.id))
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(n.ctx, 20*time.Second)
		v, err := d.GetValue(ctx, "/pk/"+string(o.id))
		cancel()
		check("get "+o.name, err == nil && string(v) == string(want), fmt.Sprintf("err=%v len=%d", err, len(v)))
		ctx, cancel = context.WithTimeout(n.ctx, 20*time.Second)
		provs, err := d.FindProviders(ctx, provideCid(o.name))
		cancel()
		found := false
		for _, p := range provs {
			found = found || p.ID == o.id
		}
		check("providers "+o.name, found, fmt.Sprintf("err=%v got %v", err, provs))
		ctx, cancel = context.WithTimeout(n.ctx, 20*time.Second)
		closest, err := d.GetClosestPeers(ctx, string(o.id))
		cancel()
		found = false
		for _, p := range closest {
			found = found || p == o.id
		}
		check("find-node "+o.name, found, fmt.Sprintf("err=%v got %v", err, closest))
	}
	log.Printf("kad checks: %v", checks)
	n.pushResult(map[string]any{"ok": len(failures) == 0, "checks": checks, "failures": failures})
	return nil
}

func mustPub(id peer.ID) crypto.PubKey {
	k, err := id.ExtractPublicKey()
	if err != nil {
		fail("peer id %s holds no public key: %v", id, err)
	}
	return k
}
