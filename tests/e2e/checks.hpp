// Assertions on the final authorization state, read from the authz server's
// SpiceDB graph (relationships endpoint) and its CheckPermission.
#pragma once

#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/stack.hpp"

namespace fgac::testing {

// "relation subject_type:subject_id" for each relationship of a task.
std::set<std::string> relations_of(Stack& stack, const std::string& task_id);

// Registered with the right owner and parent: the creator may read it, bob may not.
// Without `with_tenant`: backfill and reconcile rebuild the principal from the
// creator columns, which do not record the account, so no tenant tuple.
void expect_registered(Stack& stack, const std::string& task_id, const std::string& agent_id,
                       const std::string& owner = "user:user-alice", bool with_tenant = true);
// Deregistered: no relationship left, nobody may read it.
void expect_deregistered(Stack& stack, const std::string& task_id);

// Runs fn(i) for i in [0, n) on `threads` threads.
void parallel_for(int n, int threads, const std::function<void(int)>& fn);

// The authz server's call log for one task never shows a register after a deregister.
void expect_ordered_calls(Stack& stack, const std::string& task_id);

}  // namespace fgac::testing
