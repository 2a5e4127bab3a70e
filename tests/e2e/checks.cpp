#include "tests/e2e/checks.hpp"

#include <doctest/doctest.h>

#include <atomic>

namespace fgac::testing {

std::set<std::string> relations_of(Stack& stack, const std::string& task_id) {
  std::set<std::string> out;
  auto body = stack.authz().relationships(task_id);
  const auto& list = body.is_array() ? body : body.at("relationships");
  for (const auto& r : list) {
    out.insert(r.at("relation").get<std::string>() + " " + r.at("subject_type").get<std::string>() + ":" +
               r.at("subject_id").get<std::string>());
  }
  return out;
}

void expect_registered(Stack& stack, const std::string& task_id, const std::string& agent_id, const std::string& owner,
                       bool with_tenant) {
  CAPTURE(task_id);
  auto rels = relations_of(stack, task_id);
  CHECK(rels.contains("owner " + owner));
  CHECK(rels.contains("parent_agent agent:" + agent_id));
  CHECK(rels.contains("tenant account:acct-dev") == with_tenant);
  const auto principal = owner == "user:user-alice" ? alice() : sa_ci();
  CHECK(stack.authz().check(principal, task_id, "read"));
  CHECK_FALSE(stack.authz().check(bob(), task_id, "read"));
}

void expect_deregistered(Stack& stack, const std::string& task_id) {
  CAPTURE(task_id);
  CHECK(relations_of(stack, task_id).empty());
  CHECK_FALSE(stack.authz().check(alice(), task_id, "read"));
}

void parallel_for(int n, int threads, const std::function<void(int)>& fn) {
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i);
    });
  }
  for (auto& t : pool) t.join();
}

void expect_ordered_calls(Stack& stack, const std::string& task_id) {
  CAPTURE(task_id);
  auto body = stack.authz().calls(task_id);
  const auto& calls = body.is_array() ? body : body.at("calls");
  CAPTURE(calls.dump());
  // The server serializes writes per resource and logs each when it answers,
  // so the log's order among applied (200) calls is the order they took
  // effect. A call the server refused (a fault, or 499: its client had given
  // up before the write's turn) changed nothing and cannot break the order.
  bool deregistered = false;
  long long last_seq = -1;
  for (const auto& c : calls) {
    const auto seq = c.at("seq").get<long long>();
    CHECK(seq > last_seq);
    last_seq = seq;
    if (c.at("status").get<int>() != 200) continue;
    const auto op = c.at("op").get<std::string>();
    if (op == "deregister") deregistered = true;
    if (op == "register") CHECK_MESSAGE(!deregistered, "register applied after deregister at seq " << seq);
  }
}

}  // namespace fgac::testing
