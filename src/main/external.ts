// Links the app may open in the user's browser (shell.openExternal): https only, to the hosts
// the app has reason to link to (the sources of the datasets it reads, the paper, the code).
// Anything else, such as a link a crafted dataset name or run label got into a page, is not
// opened: openExternal hands a URL to the operating system, which may run a program for it.
export const EXTERNAL_HOSTS: readonly string[] = [
  'www.cs.toronto.edu', // CIFAR-10/100
  'cs231n.stanford.edu', // Tiny ImageNet
  'github.com',
  'arxiv.org',
  'doi.org',
];

/** The URL to open, or null when it is not an https link to an allowed host. */
export function allowedExternal(raw: string): URL | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' || url.username || url.password || url.port) return null;
  return EXTERNAL_HOSTS.includes(url.hostname) ? url : null;
}
