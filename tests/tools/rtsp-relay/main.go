// Command rtsp-relay is the test suite's stand-in for an IP camera: an RTSP server on one address that takes a
// stream published to a path (ffmpeg -f rtsp, RECORD) and serves it to every client that plays that path (DESCRIBE,
// SETUP, PLAY), over TCP. When the publisher goes away, its path's readers are disconnected, as a camera that
// drops would do. Used by tests/processor/cameras.int.test.ts only.
package main

import (
	"flag"
	"log"
	"sync"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
)

type published struct {
	stream    *gortsplib.ServerStream
	publisher *gortsplib.ServerSession
}

type relay struct {
	server *gortsplib.Server
	mutex  sync.Mutex
	paths  map[string]*published
}

func (r *relay) lookup(path string) *gortsplib.ServerStream {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	if p, ok := r.paths[path]; ok {
		return p.stream
	}
	return nil
}

func (r *relay) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	for path, p := range r.paths {
		if p.publisher == ctx.Session {
			p.stream.Close() // readers of this path are disconnected
			delete(r.paths, path)
			log.Printf("publisher of %s left", path)
		}
	}
}

func (r *relay) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	r.mutex.Lock()
	defer r.mutex.Unlock()
	if old, ok := r.paths[ctx.Path]; ok {
		old.stream.Close()
		old.publisher.Close()
	}
	stream := &gortsplib.ServerStream{Server: r.server, Desc: ctx.Description}
	if err := stream.Initialize(); err != nil {
		return &base.Response{StatusCode: base.StatusBadRequest}, err
	}
	r.paths[ctx.Path] = &published{stream: stream, publisher: ctx.Session}
	log.Printf("publisher of %s announced", ctx.Path)
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (r *relay) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	stream := r.lookup(ctx.Path)
	if stream == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, stream, nil
}

func (r *relay) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if ctx.Session.State() == gortsplib.ServerSessionStatePreRecord {
		return &base.Response{StatusCode: base.StatusOK}, nil, nil
	}
	stream := r.lookup(ctx.Path)
	if stream == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, stream, nil
}

func (r *relay) OnPlay(_ *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (r *relay) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	stream := r.lookup(ctx.Path)
	ctx.Session.OnPacketRTPAny(func(media *description.Media, _ format.Format, pkt *rtp.Packet) {
		if stream != nil {
			_ = stream.WritePacketRTP(media, pkt)
		}
	})
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func main() {
	address := flag.String("listen", "127.0.0.1:8554", "address to serve RTSP on (TCP)")
	flag.Parse()
	r := &relay{paths: map[string]*published{}}
	r.server = &gortsplib.Server{Handler: r, RTSPAddress: *address}
	if err := r.server.Start(); err != nil {
		log.Fatalf("rtsp-relay: %v", err)
	}
	log.Printf("rtsp-relay listening on %s", *address)
	log.Fatal(r.server.Wait())
}
