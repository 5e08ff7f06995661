import { describe, expect, it } from "vitest";
import { CapabilityFailure } from "../../worker/capabilities/reply";
import { checkUrl, type UrlPolicy } from "../../worker/capabilities/url-policy";

const policy: UrlPolicy = {
  allowedDomains: ["api.github.com", "*.example.org", "127.0.0.1", "localhost", "code-exec.test"],
  serviceHostnames: ["code-exec.test"],
};

function refusal(url: string, against: UrlPolicy = policy): string {
  try {
    checkUrl(url, against);
  } catch (error) {
    if (error instanceof CapabilityFailure) return error.code;
    throw error;
  }
  return "allowed";
}

describe("api() URL policy", () => {
  it("allows listed hosts and wildcard subdomains at a dot boundary", () => {
    expect(checkUrl("https://api.github.com/repos/x?q=1", policy).href).toBe("https://api.github.com/repos/x?q=1");
    expect(refusal("https://docs.example.org/")).toBe("allowed");
    expect(refusal("https://a.b.example.org/")).toBe("allowed");
  });

  it("denies every host when allowedDomains is empty", () => {
    expect(refusal("https://api.github.com/", { allowedDomains: [], serviceHostnames: [] })).toBe("DOMAIN_NOT_ALLOWED");
  });

  it.each([
    ["https://api.github.com@evil.com/", "URL_NOT_ALLOWED"],
    ["https://user:pass@api.github.com/", "URL_NOT_ALLOWED"],
    ["https://evil.com#@api.github.com/", "DOMAIN_NOT_ALLOWED"],
    ["https://evil.com\\@api.github.com/", "DOMAIN_NOT_ALLOWED"],
    ["https://evil.com?@api.github.com/", "DOMAIN_NOT_ALLOWED"],
  ])("refuses userinfo tricks: %s", (url, code) => {
    expect(refusal(url)).toBe(code);
  });

  it.each([
    "https://evilapi.github.com/",
    "https://api.github.com.evil.com/",
    "https://github.com/",
    "https://example.org/",
    "https://evilexample.org/",
    "https://example.org.evil.com/",
    "https://xn--pi-7ld.github.com/",
    "https://аpi.github.com/",
  ])("refuses look-alike hosts: %s", (url) => {
    expect(refusal(url)).toBe("DOMAIN_NOT_ALLOWED");
  });

  it("decides on the decoded host: percent-encoded dots cannot smuggle a suffix", () => {
    expect(checkUrl("https://api%2Egithub%2Ecom/x", policy).hostname).toBe("api.github.com");
    expect(refusal("https://api.github.com%2Eevil.com/")).toBe("DOMAIN_NOT_ALLOWED");
    expect(refusal("https://api.github.com%252Eevil.com/")).toBe("INVALID_ARGUMENT");
    expect(refusal("https://api.github.com%00.evil.com/")).toBe("INVALID_ARGUMENT");
  });

  it("normalises case and a trailing dot before matching, and fetches the normalised host", () => {
    expect(checkUrl("https://API.GitHub.COM./repos", policy).href).toBe("https://api.github.com/repos");
    expect(refusal("https://API.GITHUB.COM.EVIL.COM./")).toBe("DOMAIN_NOT_ALLOWED");
  });

  it.each([
    "https://127.0.0.1/",
    "https://2130706433/",
    "https://0x7f000001/",
    "https://0x7f.0.0.1/",
    "https://0177.0.0.1/",
    "https://127.1/",
    "https://017700000001/",
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[0:0:0:0:0:0:0:1]/",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fd00:ec2::254]/",
    "https://10.0.0.1/",
    "https://192.168.1.1/",
    "https://8.8.8.8/",
  ])("refuses IP literals in any notation, even if listed: %s", (url) => {
    expect(refusal(url)).toBe("URL_NOT_ALLOWED");
  });

  it.each([
    "https://localhost/",
    "https://localhost./",
    "https://LOCALHOST/",
    "https://foo.localhost/",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://printer.local/",
    "https://intranet/",
  ])("refuses localhost and internal names, even if listed: %s", (url) => {
    expect(refusal(url)).toBe("URL_NOT_ALLOWED");
  });

  it.each([
    "http://api.github.com/",
    "ftp://api.github.com/",
    "file:///etc/passwd",
    "data:text/plain,hi",
    "javascript:alert(1)",
    "wss://api.github.com/",
    "blob:https://api.github.com/uuid",
  ])("refuses schemes other than https: %s", (url) => {
    expect(refusal(url)).toBe("URL_NOT_ALLOWED");
  });

  it("refuses non-default ports and accepts an explicit default one", () => {
    expect(refusal("https://api.github.com:8443/")).toBe("URL_NOT_ALLOWED");
    expect(refusal("https://api.github.com:80/")).toBe("URL_NOT_ALLOWED");
    expect(refusal("https://api.github.com:443/")).toBe("allowed");
  });

  it("refuses the service's own host even when listed", () => {
    expect(refusal("https://code-exec.test/execute")).toBe("URL_NOT_ALLOWED");
    expect(refusal("https://CODE-EXEC.test./execute")).toBe("URL_NOT_ALLOWED");
  });

  it("rejects strings that are not absolute URLs", () => {
    expect(refusal("/relative")).toBe("INVALID_ARGUMENT");
    expect(refusal("api.github.com")).toBe("INVALID_ARGUMENT");
  });
});
