#include "tools/s3/config.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "index/model/object_record.h"
#include "nlohmann/json.hpp"

namespace cellindex::s3 {
namespace {

using Json = nlohmann::json;

absl::Status Bad(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("config ", path, ": ", what));
}

std::string Resolve(const std::string& base, const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  return absl::StrCat(base, "/", p);
}

}  // namespace

absl::StatusOr<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("config ", path, " cannot be read"));
  std::stringstream text;
  text << in.rdbuf();
  const Json j = Json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Bad(path, "not a JSON object");
  const size_t slash = path.rfind('/');
  const std::string base = slash == std::string::npos ? "." : path.substr(0, slash);

  Config c;
  for (const auto& [name, value] : j.items()) {
    if (name == "node" || name == "region" || name == "data" || name == "store") {
      if (!value.is_string() || value.get<std::string>().empty()) {
        return Bad(path, absl::StrCat("\"", name, "\" must be a non-empty string"));
      }
      const std::string v = value.get<std::string>();
      if (name == "node") c.node = v;
      if (name == "region") c.region = v;
      if (name == "data") c.data_dir = Resolve(base, v);
      if (name == "store") c.store_dir = Resolve(base, v);
    } else if (name == "cells" || name == "hosts" || name == "replicas" || name == "max_object_bytes") {
      if (!value.is_number_unsigned() || value.get<uint64_t>() == 0) {
        return Bad(path, absl::StrCat("\"", name, "\" must be a positive integer"));
      }
      const uint64_t v = value.get<uint64_t>();
      if (name == "max_object_bytes") {
        c.max_object_bytes = v;
      } else if (v > 4096) {
        return Bad(path, absl::StrCat("\"", name, "\" must be at most 4096"));
      } else {
        (name == "cells" ? c.cells : name == "hosts" ? c.hosts : c.replicas) =
            static_cast<int>(v);
      }
    } else if (name == "volumes" || name == "access_keys") {
      if (!value.is_object() || value.empty()) {
        return Bad(path, absl::StrCat("\"", name, "\" must be a non-empty object"));
      }
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string() || v.get<std::string>().empty()) {
          return Bad(path, absl::StrCat("\"", name, "\".\"", k, "\" must be a non-empty string"));
        }
        if (name == "volumes") {
          if (absl::Status s = ValidateLocationName("volume", k); !s.ok()) {
            return Bad(path, s.message());
          }
          c.volumes[k] = Resolve(base, v.get<std::string>());
        } else {
          c.access_keys[k] = v.get<std::string>();
        }
      }
    } else {
      return Bad(path, absl::StrCat("unknown field \"", name, "\""));
    }
  }
  if (c.data_dir.empty() || c.store_dir.empty()) return Bad(path, "\"data\" and \"store\" are required");
  if (c.volumes.empty()) return Bad(path, "\"volumes\" is required");
  if (c.access_keys.empty()) return Bad(path, "\"access_keys\" is required");
  if (absl::Status s = ValidateLocationName("node", c.node); !s.ok()) return Bad(path, s.message());
  if (static_cast<size_t>(c.replicas) > c.volumes.size()) {
    return Bad(path, "\"replicas\" exceeds the number of volumes");
  }
  return c;
}

Options IndexOptions(const Config& c) {
  Options o;
  o.data_dir = c.data_dir;
  o.store_dir = c.store_dir;
  for (int h = 0; c.hosts > 1 && h < c.hosts; ++h) {
    o.host_dirs[absl::StrCat("host-", h)] = absl::StrCat(c.data_dir, "/host-", h);
  }
  static constexpr char kChars[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  for (int i = 1; i < c.cells && i < 36; ++i) {
    o.cell_boundaries.push_back(EncodeBucketPrefix(std::string(1, kChars[i * 36 / c.cells])));
  }
  return o;
}

}  // namespace cellindex::s3
