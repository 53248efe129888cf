-- wrk script for bench/proxy.sh: validations of one access token, or (MIX=1) validations and
-- mints in turn, each mint a new token for the proxy's model to track.
local validate = os.getenv("VALIDATE_BODY")
local mint = os.getenv("MINT_BODY")
local mix = os.getenv("MIX") == "1"
local headers = { ["Content-Type"] = "application/json" }
local n = 0
request = function()
  n = n + 1
  if mix and n % 2 == 0 then
    return wrk.format("POST", "/integration/v1/createAPIAccessToken/", headers, mint)
  end
  return wrk.format("POST", "/integration/v1/validateAPIAccessToken/", headers, validate)
end
