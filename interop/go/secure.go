package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
)

// hostStack selects what newHostWith adds beyond TCP + WebSocket + yamux: the one secure
// channel offered on TCP/WS ("noise" or "tls": ../CONTRACT.md, `security`) and QUIC v1
// (which always runs TLS 1.3 with the libp2p certificate, whatever security says).
type hostStack struct {
	security string
	quic     bool
}

func securityOption(s string) libp2p.Option {
	switch s {
	case "noise":
		return libp2p.Security(noise.ID, noise.New)
	case "tls":
		return libp2p.Security(libp2ptls.ID, libp2ptls.New)
	}
	fail("unsupported security %q (want noise or tls)", s)
	return nil
}

// certMode prints one JSON line per requested key type: a certificate as go-libp2p's TLS
// (p2p/security/tls NewIdentity) presents it in the handshake, as DER hex, and the peer id a
// verifier must derive from it. For spec/vectors/tls-peers.json (interop/README.md, "TLS
// certificates"). Arguments: key types (ed25519, ecdsa, secp256k1, rsa); default ed25519.
func certMode(args []string) int {
	if len(args) == 0 {
		args = []string{"ed25519"}
	}
	for _, kt := range args {
		var typ int
		bits := -1
		switch kt {
		case "ed25519":
			typ = crypto.Ed25519
		case "ecdsa":
			typ = crypto.ECDSA
		case "secp256k1":
			typ = crypto.Secp256k1
		case "rsa":
			typ, bits = crypto.RSA, 2048
		default:
			fail("cert: unknown key type %q", kt)
		}
		priv, _, err := crypto.GenerateKeyPairWithReader(typ, bits, rand.Reader)
		if err != nil {
			fail("cert: generating %s key: %v", kt, err)
		}
		id, err := peer.IDFromPrivateKey(priv)
		if err != nil {
			fail("cert: peer id: %v", err)
		}
		ident, err := libp2ptls.NewIdentity(priv)
		if err != nil {
			fail("cert: NewIdentity: %v", err)
		}
		conf, _ := ident.ConfigForPeer("")
		if len(conf.Certificates) != 1 || len(conf.Certificates[0].Certificate) != 1 {
			fail("cert: expected one certificate in the chain")
		}
		fmt.Fprintln(os.Stdout, jsonLine(struct {
			KeyType string `json:"keyType"`
			PeerID  string `json:"peerId"`
			CertDER string `json:"certDerHex"`
		}{kt, id.String(), hex.EncodeToString(conf.Certificates[0].Certificate[0])}))
	}
	return 0
}
