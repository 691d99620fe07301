-- links.lua: pages link to each other by their Markdown names (x.md, or
-- x.md#part), so the links work in the sources; the HTML pages are x.html.
function Link(el)
  if not el.target:match("^%a[%w+.-]*:") then
    el.target = el.target:gsub("^([^#]*)%.md(#?)", "%1.html%2")
  end
  return el
end
