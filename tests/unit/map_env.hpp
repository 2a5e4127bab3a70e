// An environment made of a map, for configuration tests.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/env.hpp"

namespace fgac::testing {

class MapEnv final : public EnvSource {
 public:
  explicit MapEnv(std::map<std::string, std::string> values) : values_(std::move(values)) {}
  [[nodiscard]] std::optional<std::string> get(std::string_view name) const override {
    auto it = values_.find(std::string(name));
    if (it == values_.end()) return std::nullopt;
    return it->second;
  }
  [[nodiscard]] std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : values_) out.push_back(k);
    return out;
  }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace fgac::testing
