package sim

type fault struct {
	path       string
	code       int // envelope code to answer (httpStatus 0)
	httpStatus int // HTTP status with an empty body, when not 0
	left       int
}

func (s *Server) takeFaultLocked(path string) *fault {
	for i, f := range s.faults {
		if f.path != path {
			continue
		}
		f.left--
		if f.left <= 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return f
	}
	return nil
}

// FailNext makes the next n requests to an API path (e.g.
// "/robot/message/send") answer HTTP 200 with the envelope
// {"code":code,"msg":…} before the signature is checked or anything is
// done, as when the server refuses a call for a reason the simulator does
// not model (e.g. 249 timeout, 4 server error).
func (s *Server) FailNext(n int, path string, code int) {
	s.addFault(&fault{path: path, code: code, left: n})
}

// FailNextHTTP makes the next n requests to an API path answer the HTTP
// status with an empty body before doing anything.
func (s *Server) FailNextHTTP(n int, path string, status int) {
	s.addFault(&fault{path: path, httpStatus: status, left: n})
}

func (s *Server) addFault(f *fault) {
	if f.left <= 0 {
		return
	}
	s.mu.Lock()
	s.faults = append(s.faults, f)
	s.mu.Unlock()
}
