// The ctsync native addon (build/Release/nlsock.node, loaded by src/native.ts): registers what
// each part exports. One part per concern, each with a header saying what it is for and its
// invariants (threads, fds, errors):
//   netlink-socket.h  NlSocket: the netlink socket (also batched receives on a UDP socket)
//   loopback.h        the fake kernel behind NlSocket.loopback(), for the commit warm-up
//   udp-batch.h       sendMany and the socket options node:dgram lacks (the sync channel)
//   process.h         setThreadScheduler, execv, peerUid
//   turn-lock.h       turnAcquire / turnRelease: the commit workers' turns at the kernel
//   sd-notify.h       sdNotify: datagrams to the service manager's $NOTIFY_SOCKET
//   js-error.h        the errors thrown to JavaScript, and when calls return -errno instead
// An N-API module (NAPI_VERSION in binding.gyp): one build serves every Node.js version that
// has that N-API version, and it loads in worker threads (each gets its own exports).
#include <napi.h>

#include "netlink-socket.h"
#include "process.h"
#include "sd-notify.h"
#include "turn-lock.h"
#include "udp-batch.h"

namespace {

Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  ctsync::RegisterNetlinkSocket(env, exports);
  ctsync::RegisterUdpBatch(env, exports);
  ctsync::RegisterProcess(env, exports);
  ctsync::RegisterTurnLock(env, exports);
  ctsync::RegisterSdNotify(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(nlsock, InitAll)
