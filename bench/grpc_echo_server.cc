// A fast gRPC upstream for bench/grpc_compare.sh: the Echo service of
// tests/integration/grpc/echo.proto on Debian's libgrpc++, callback API (no
// thread per call), answering Unary with the request's message and payload.
// Only Unary is implemented; the benchmark measures proxies, not this.
// Usage: grpc_echo_server <port> [name]
#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "echo.grpc.pb.h"

namespace {

class EchoService final : public gantry::test::Echo::CallbackService {
 public:
  explicit EchoService(std::string name) : name_(std::move(name)) {}

  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx, const gantry::test::EchoRequest* req,
                                  gantry::test::EchoReply* reply) override {
    reply->set_message(req->message());
    reply->set_payload(req->payload());
    reply->set_server(name_);
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  std::string name_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: grpc_echo_server <port> [name]\n";
    return 2;
  }
  EchoService service(argc > 2 ? argv[2] : "bench");
  grpc::ServerBuilder builder;
  builder.AddListeningPort(std::string("127.0.0.1:") + argv[1], grpc::InsecureServerCredentials());
  // proxies multiplex many client streams onto few connections: do not cap them
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 10000);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::cerr << "cannot listen on port " << argv[1] << "\n";
    return 1;
  }
  std::cout << "ready" << std::endl;
  server->Wait();
  return 0;
}
