package ocpp

import "time"

// handlerPool runs frame handlers on goroutines that outlive one frame. Handling a frame
// needs a stack of 8 KiB and more; a goroutine started for each frame would begin small and
// grow (copy) its stack every time, and handling on the connection's own goroutine would
// keep that stack for as long as the station stays connected (see readLoop). The pool's
// goroutines keep their grown stacks, and there are only as many as frames are being handled
// at once.
//
// The pool never makes a frame wait for another station's: when no goroutine is free, a new
// one starts. A goroutine with nothing to do for idleAfter ends.
type handlerPool struct {
	jobs      chan func()
	idleAfter time.Duration
}

func newHandlerPool(idleAfter time.Duration) *handlerPool {
	return &handlerPool{jobs: make(chan func()), idleAfter: idleAfter}
}

// run starts job on a free handler goroutine, or on a new one.
func (p *handlerPool) run(job func()) {
	select {
	case p.jobs <- job:
	default:
		go p.work(job)
	}
}

func (p *handlerPool) work(job func()) {
	job()
	idle := time.NewTimer(p.idleAfter)
	defer idle.Stop()
	for {
		select {
		case job := <-p.jobs:
			job()
			idle.Reset(p.idleAfter)
		case <-idle.C:
			return
		}
	}
}
