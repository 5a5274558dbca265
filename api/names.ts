/** Names as Kubernetes has them: node and object names are lowercase DNS subdomains. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function isDnsSubdomain(name: string): boolean {
  return DNS_SUBDOMAIN.test(name);
}

export const DNS_SUBDOMAIN_RULE = 'lowercase letters, digits, "-" and ".", starting and ending with a letter or digit, at most 253';
